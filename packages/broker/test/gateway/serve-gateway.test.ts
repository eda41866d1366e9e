import { createServer, type Server } from 'node:net'
import { serveBroker, spawnBroker, writeConfig } from '@wxbroker/testkit'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APPID, KEY, SECRET, SECRET_ENV, serveConfig } from '../cli/serve-fixture.js'

// `wxbroker serve` with the gateway on, as a process: both listeners bound before the engine
// starts, the gateway's origin logged, in-flight gateway calls finished on SIGTERM, and a port
// that cannot be bound named by its setting.

const GATEWAY = (port = 0) => `gateway: { listen: { host: 127.0.0.1, port: ${port} } }`
const withGatewayScope = (yaml: string): string =>
  yaml.replace('scopes: [token:read, login]', 'scopes: [token:read, login, gateway]')

describe('wxbroker serve with the gateway', () => {
  let sim: Simulator
  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appid: APPID, secret: SECRET }] })
    await sim.admin.registerUser({ appid: APPID, openid: 'o-serve' })
  })
  afterAll(() => sim.close())

  it('logs the gateway origin, serves through it, and finishes a call in flight on SIGTERM', async () => {
    const broker = await serveBroker(withGatewayScope(serveConfig(sim.url, GATEWAY())), SECRET_ENV)
    try {
      const listening = broker.stdout.find((l) => l.includes('"msg":"wxbroker listening"')) ?? ''
      const { gateway } = JSON.parse(listening) as { gateway: string }
      expect(gateway).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
      const res = await fetch(
        `${gateway}/cgi-bin/token?grant_type=client_credential&appid=${APPID}&secret=${KEY}`
      )
      const { access_token: token } = (await res.json()) as { access_token: string }
      expect(token.length).toBeGreaterThan(20)

      // A call WeChat takes 600 ms to answer, then SIGTERM while it is in flight.
      await sim.admin.addFault({ endpoint: '/wxa/msg_sec_check', latency: 600 })
      const inFlight = fetch(`${gateway}/wxa/msg_sec_check?access_token=${token}`, {
        method: 'POST',
        body: JSON.stringify({ content: 'hi', version: 2, scene: 1, openid: 'o-serve' }),
      })
      await new Promise((r) => setTimeout(r, 150))
      broker.proc.child.kill('SIGTERM')
      const answer = (await (await inFlight).json()) as { errcode: number }
      expect(answer.errcode).toBe(0)
      expect(await broker.proc.exited).toBe(0)
      // No longer listening.
      await expect(fetch(`${gateway}/cgi-bin/token`)).rejects.toThrow()
    } finally {
      await broker.proc.stop('SIGKILL')
    }
  })

  it('a gateway port in use: exit 1 naming gateway.listen.port, before any call to WeChat', async () => {
    const taken: Server = createServer()
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', () => r()))
    const port = (taken.address() as { port: number }).port
    const calls = await sim.admin.calls()
    try {
      const broker = spawnBroker(
        ['serve', '--config', writeConfig(withGatewayScope(serveConfig(sim.url, GATEWAY(port))))],
        SECRET_ENV
      )
      expect(await broker.proc.exited).toBe(1)
      expect(broker.stderr()).toContain(
        `cannot listen on 127.0.0.1:${port} (EADDRINUSE): the port is in use; stop the other process or change gateway.listen.port (WXBROKER_GATEWAY_LISTEN_PORT)`
      )
      expect(await sim.admin.calls()).toEqual(calls)
    } finally {
      await new Promise((r) => taken.close(r))
    }
  })
})
