import { createHash } from 'node:crypto'
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { startRedis, type RedisServer } from '@wxbroker/testkit'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { buildConfig } from '../../src/config/load.js'
import { createLogger } from '../../src/observability/logger.js'
import { listenBroker, type RunningBroker } from '../../src/server/server.js'

// The broker listens before its engine has started (the engine waits for its own start): meanwhile /readyz is
// 503 `starting`, and a token reader waits for the start like a cold start, up to its bound. The
// store is a real Redis behind a TCP proxy that holds each connection back, or a server that never
// answers at all.

const APPID = 'wx000000000005a7e1'
const SECRET = 'starting-secret-0c1d'
const KEY = 'starting-client-key-000000000001'

let sim: Simulator
let redis: RedisServer & { stopAll: () => Promise<void> }
const cleanups: (() => Promise<void>)[] = []
beforeAll(async () => {
  sim = await startSimulator({ apps: [{ appid: APPID, secret: SECRET }] })
  redis = await startRedis()
})
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})
afterAll(async () => {
  await redis.stopAll()
  await sim.close()
})

/** A TCP server in front of the Redis that forwards each connection after `holdMs`; never if null. */
async function slowProxy(holdMs: number | null): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    sockets.add(client)
    client.on('error', () => undefined)
    client.pause()
    if (holdMs === null) return
    setTimeout(() => {
      const upstream = connect({ host: '127.0.0.1', port: redis.port })
      sockets.add(upstream)
      upstream.on('error', () => client.destroy())
      client.pipe(upstream).pipe(client)
      client.resume()
    }, holdMs)
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanups.push(
    () =>
      new Promise((resolve) => {
        sockets.forEach((s) => s.destroy())
        server.close(() => resolve())
      })
  )
  return (server.address() as AddressInfo).port
}

async function brokerOn(storePort: number, coldStartTimeoutMs: number): Promise<RunningBroker> {
  const config = buildConfig(
    {
      listen: { host: '127.0.0.1', port: 0 },
      store: { redis: `redis://127.0.0.1:${storePort}/0`, keyPrefix: `starting${storePort}` },
      wechat: { baseUrl: sim.url, timeoutMs: 2000 },
      apps: [{ appid: APPID, secret: SECRET }],
      clients: [
        {
          name: 'reader',
          keySha256: createHash('sha256').update(KEY).digest('hex'),
          apps: ['*'],
          scopes: ['token:read'],
        },
      ],
    },
    '(test)',
    {}
  )
  const broker = await listenBroker(config, {
    logger: createLogger({ level: 'silent', destination: { write: () => undefined } }),
    drainTimeoutMs: 500,
    engine: { coldStartTimeoutMs },
  })
  cleanups.push(() => broker.shutdown())
  return broker
}

const getToken = (broker: RunningBroker) =>
  fetch(`${broker.url}/v1/apps/${APPID}/token`, { headers: { authorization: `Bearer ${KEY}` } })

describe('listening before the engine has started', () => {
  it('/readyz says `starting`; a token reader waits for the start and gets the token', async () => {
    const broker = await brokerOn(await slowProxy(700), 5000)
    const ready = await fetch(`${broker.url}/readyz`)
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as { reasons: string[] }).reasons[0]).toBe('starting')

    const res = await getToken(broker)
    expect(res.status).toBe(200)
    expect(((await res.json()) as { appid: string }).appid).toBe(APPID)
    await broker.started
    const after = await fetch(`${broker.url}/readyz`)
    expect(((await after.json()) as { reasons: string[] }).reasons).not.toContain('starting')
  })

  it('a start that outlasts the cold-start bound: 503 token_unavailable with Retry-After; the stop ends it', async () => {
    const before = await sim.admin.calls()
    const broker = await brokerOn(await slowProxy(null), 300)
    const res = await getToken(broker)
    expect(res.status).toBe(503)
    expect(res.headers.get('retry-after')).toBe('1')
    expect(await res.json()).toMatchObject({
      error: { code: 'token_unavailable', message: 'the broker is still starting' },
    })
    const stopping = Date.now()
    await broker.shutdown()
    await broker.started
    expect(Date.now() - stopping).toBeLessThan(2000)
    // The start never reached WeChat.
    expect(await sim.admin.calls()).toEqual(before)
  })
})
