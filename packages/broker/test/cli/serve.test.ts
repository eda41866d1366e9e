import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { serveBroker, spawnBroker, startRedis, writeConfig } from '@wxbroker/testkit'

// Real `wxbroker serve` processes: two replicas on one Redis serve the same token, and SIGTERM
// during an in-flight request lets it finish and exits 0.

const APPID = 'wx0000000000000c11'
const SECRET = 'serve-test-secret-8e7d'
const KEY = 'serve-test-client-key-00000000'
const KEY_SHA = createHash('sha256').update(KEY).digest('hex')

const config = (simUrl: string, store = '') => `
listen: { host: 127.0.0.1, port: 0 }
${store}
wechat: { baseUrl: ${simUrl}, timeoutMs: 3000 }
apps:
  - appid: ${APPID}
    secret: \${env:APP_SECRET}
clients:
  - name: svc
    keySha256: ${KEY_SHA}
    apps: ["*"]
    scopes: [token:read, login]
`

let sim: Simulator
beforeAll(async () => {
  sim = await startSimulator({ apps: [{ appid: APPID, secret: SECRET }] })
})
afterAll(async () => {
  await sim.close()
})

const auth = { authorization: `Bearer ${KEY}` }

describe('wxbroker serve', () => {
  it('two replicas on one Redis serve the same token from one upstream call', async () => {
    const redis = await startRedis()
    const yaml = config(sim.url, `store: { redis: "${redis.url}", keyPrefix: wxbtest }`)
    const [a, b] = await Promise.all([
      serveBroker(yaml, { APP_SECRET: SECRET }),
      serveBroker(yaml, { APP_SECRET: SECRET }),
    ])
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

  it('SIGTERM during an in-flight request: the request finishes, the process exits 0 promptly', async () => {
    const broker = await serveBroker(config(sim.url), { APP_SECRET: SECRET })
    try {
      // An idle keep-alive connection must not hold the server open.
      expect((await fetch(`${broker.url}/healthz`)).status).toBe(200)
      await sim.admin.registerLoginCode({ appid: APPID, code: 'slow-code', openid: 'o-slow' })
      await sim.admin.addFault({ endpoint: '/sns/jscode2session', latency: 800, times: 1 })
      const inFlight = fetch(`${broker.url}/v1/apps/${APPID}/jscode2session`, {
        method: 'POST',
        headers: { ...auth, 'content-type': 'application/json' },
        body: JSON.stringify({ js_code: 'slow-code' }),
      })
      await new Promise((r) => setTimeout(r, 200))
      const started = Date.now()
      broker.proc.child.kill('SIGTERM')
      const res = await inFlight
      expect(res.status).toBe(200)
      expect(await res.json()).toMatchObject({ openid: 'o-slow' })
      expect(await broker.proc.exited).toBe(0)
      expect(Date.now() - started).toBeLessThan(4000)
      expect(broker.stdout.some((l) => l.includes('"msg":"stopped"'))).toBe(true)
      // New connections are refused once it has stopped.
      await expect(fetch(`${broker.url}/healthz`)).rejects.toThrow()
    } finally {
      await sim.admin.clearFaults()
      await broker.proc.stop('SIGKILL')
    }
  })
})

describe('wxbroker serve, port taken', () => {
  it('exits 1 with a message naming the address and the fix', async () => {
    const first = await serveBroker(config(sim.url), { APP_SECRET: SECRET })
    try {
      const port = new URL(first.url).port
      const second = spawnBroker(
        ['serve', '--config', writeConfig(config(sim.url).replace('port: 0', `port: ${port}`))],
        {
          APP_SECRET: SECRET,
        }
      )
      expect(await second.proc.exited).toBe(1)
      expect(second.stderr()).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`)
    } finally {
      await first.proc.stop('SIGTERM')
    }
  })
})
