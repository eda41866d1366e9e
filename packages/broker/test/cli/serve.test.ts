import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { serveBroker, startRedis } from '@wxbroker/testkit'
import { APPID, SECRET, SECRET_ENV, auth, serveConfig as config } from './serve-fixture.js'

// Real `wxbroker serve` processes: two replicas on one Redis serve the same token, and SIGTERM (or
// SIGHUP) during an in-flight request lets it finish and exits 0.

let sim: Simulator
beforeAll(async () => {
  sim = await startSimulator({ apps: [{ appid: APPID, secret: SECRET }] })
})
afterAll(async () => {
  await sim.close()
})

describe('wxbroker serve', () => {
  it('two replicas on one Redis serve the same token from one upstream call', async () => {
    const redis = await startRedis()
    const yaml = config(sim.url, `store: { redis: "${redis.url}", keyPrefix: wxbtest }`)
    const [a, b] = await Promise.all([serveBroker(yaml, SECRET_ENV), serveBroker(yaml, SECRET_ENV)])
    try {
      const [ra, rb] = await Promise.all([
        fetch(`${a.url}/v1/apps/${APPID}/token`, { headers: auth }),
        fetch(`${b.url}/v1/apps/${APPID}/token`, { headers: auth }),
      ])
      expect(ra.status).toBe(200)
      expect(rb.status).toBe(200)
      const ta = (await ra.json()) as { access_token: string }
      const tb = (await rb.json()) as { access_token: string }
      expect(ta.access_token).toBe(tb.access_token)
      expect((await sim.admin.tokens(APPID, 'stable')).all).toHaveLength(1)
      for (const r of [a, b]) {
        const ready = await fetch(`${r.url}/readyz`)
        expect(await ready.json()).toEqual({
          ready: true,
          store_up: true,
          reasons: [],
          degraded: [],
        })
      }
      expect(await Promise.all([a.proc.stop('SIGTERM'), b.proc.stop('SIGTERM')])).toEqual([0, 0])
    } finally {
      await Promise.all([a.proc.stop('SIGKILL'), b.proc.stop('SIGKILL')])
      await redis.stopAll()
    }
  })

  it.each<NodeJS.Signals>(['SIGTERM', 'SIGHUP'])(
    '%s during an in-flight request: the request finishes, the process exits 0 promptly',
    async (signal) => {
      const broker = await serveBroker(config(sim.url), SECRET_ENV)
      try {
        // An idle keep-alive connection must not hold the server open.
        expect((await fetch(`${broker.url}/healthz`)).status).toBe(200)
        const code = `slow-code-${signal}`
        await sim.admin.registerLoginCode({ appid: APPID, code, openid: 'o-slow' })
        await sim.admin.addFault({ endpoint: '/sns/jscode2session', latency: 800, times: 1 })
        const inFlight = fetch(`${broker.url}/v1/apps/${APPID}/jscode2session`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json' },
          body: JSON.stringify({ js_code: code }),
        })
        await new Promise((r) => setTimeout(r, 200))
        const started = Date.now()
        broker.proc.child.kill(signal)
        const res = await inFlight
        expect(res.status).toBe(200)
        expect(await res.json()).toMatchObject({ openid: 'o-slow' })
        expect(await broker.proc.exited).toBe(0)
        expect(Date.now() - started).toBeLessThan(4000)
        expect(broker.stdout.some((l) => l.includes(`"signal":"${signal}"`))).toBe(true)
        expect(broker.stdout.some((l) => l.includes('"msg":"stopped"'))).toBe(true)
        // New connections are refused once it has stopped.
        await expect(fetch(`${broker.url}/healthz`)).rejects.toThrow()
      } finally {
        await sim.admin.clearFaults()
        await broker.proc.stop('SIGKILL')
      }
    }
  )
})
