import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import {
  parsePrometheus,
  serveBroker,
  startRedis,
  type BrokerProcess,
  type RedisServer,
} from '@wxbroker/testkit'

// Design §3.7 with real processes: replicas stay ready through a Redis outage while they hold a
// valid token, report the outage as a degradation, turn not-ready only when the token's safe life
// runs out, and recover by themselves when Redis is back.

const APPID = 'wx0000000000000d14'
const SECRET = 'store-outage-secret-4c1e'
const KEY = 'store-outage-client-key-000000001'
const KEY_SHA = createHash('sha256').update(KEY).digest('hex')
// A classic token that lives 20 s at the simulator. With the smallest refresh lead (60 s) the
// broker replaces it at half its life plus up to 6 s of jitter, so replicas never run dry while
// Redis is up, and one that cannot refresh runs out within 20 s.
const TOKEN_LIFE_SECONDS = 20

const config = (simUrl: string, redisUrl: string): string => `
listen: { host: 127.0.0.1, port: 0 }
store: { redis: "${redisUrl}", keyPrefix: wxbready }
wechat: { baseUrl: ${simUrl}, timeoutMs: 3000 }
apps:
  - appid: ${APPID}
    secret: \${env:APP_SECRET}
    tokenKind: classic
    refreshLeadSeconds: 60
clients:
  - name: svc
    keySha256: ${KEY_SHA}
    apps: ["*"]
    scopes: [token:read]
`

interface ReadyBody {
  ready: boolean
  store_up: boolean
  reasons: string[]
  degraded: string[]
}

async function readyz(url: string, query = ''): Promise<{ status: number; body: ReadyBody }> {
  const res = await fetch(`${url}/readyz${query}`)
  return { status: res.status, body: (await res.json()) as ReadyBody }
}

interface TokenAnswer {
  status: number
  body: { access_token?: string; expires_at?: string }
}

async function token(url: string): Promise<TokenAnswer> {
  const res = await fetch(`${url}/v1/apps/${APPID}/token`, {
    headers: { authorization: `Bearer ${KEY}` },
  })
  return { status: res.status, body: (await res.json()) as TokenAnswer['body'] }
}

async function degradedGauge(url: string): Promise<Record<string, number>> {
  const { samples } = parsePrometheus(await (await fetch(`${url}/metrics`)).text())
  const active: Record<string, number> = {}
  for (const s of samples)
    if (s.name === 'wxbroker_degraded') active[s.labels.reason ?? ''] = s.value
  return active
}

async function until<T>(
  probe: () => Promise<T>,
  done: (value: T) => boolean,
  what: string,
  timeoutMs: number
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (done(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

type Replica = BrokerProcess & { url: string }

describe('readiness through a store outage (two wxbroker serve replicas on one Redis)', () => {
  let sim: Simulator
  let redis: RedisServer & { stopAll: () => Promise<void> }
  const replicas: Replica[] = []

  beforeAll(async () => {
    ;[sim, redis] = await Promise.all([
      startSimulator({
        apps: [{ appid: APPID, secret: SECRET, tokenExpiresIn: TOKEN_LIFE_SECONDS }],
      }),
      startRedis(),
    ])
  })
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.proc.stop('SIGKILL')))
    await sim?.close()
    await redis?.stopAll()
  })

  it('stays ready while it holds a valid token, 503 once it has none, and recovers by itself', async () => {
    const yaml = config(sim.url, redis.url)
    const env = { APP_SECRET: SECRET }
    const [a, b] = await Promise.all([serveBroker(yaml, env), serveBroker(yaml, env)])
    replicas.push(a, b)
    // Both hold the one token (a replica that lost the cold-start race waits for the winner's).
    const held = await Promise.all([a, b].map((r) => token(r.url)))
    expect(held.map((t) => t.status)).toEqual([200, 200])
    expect(held[1]!.body.access_token).toBe(held[0]!.body.access_token)
    // Its safe life: a replica may stop serving it in its last second, never before, never after.
    const expiresAt = Date.parse(held[0]!.body.expires_at ?? '')
    for (const r of [a, b]) {
      expect(await readyz(r.url)).toEqual({
        status: 200,
        body: { ready: true, store_up: true, reasons: [], degraded: [] },
      })
    }

    // Redis dies: both replicas stay ready, name the store in `degraded`, and keep serving.
    await redis.kill()
    for (const r of [a, b]) {
      const down = await until(
        () => readyz(r.url),
        (x) => !x.body.store_up,
        'the replica sees the store down',
        5000
      )
      expect(down).toEqual({
        status: 200,
        body: { ready: true, store_up: false, reasons: [], degraded: ['store_unreachable'] },
      })
      expect(await readyz(r.url, '?strict=true')).toEqual({
        status: 503,
        body: {
          ready: false,
          store_up: false,
          reasons: ['store unreachable'],
          degraded: ['store_unreachable'],
        },
      })
      const served = await token(r.url)
      expect(served.status).toBe(200)
      expect(served.body.access_token).toBe(held[0]!.body.access_token)
      expect(await degradedGauge(r.url)).toEqual({ store_unreachable: 1 })
    }

    // A replica started while Redis is down holds no token: not ready, naming the app.
    const c = await serveBroker(yaml, env)
    replicas.push(c)
    const cold = await readyz(c.url)
    expect(cold.status).toBe(503)
    expect(cold.body).toMatchObject({ ready: false, store_up: false })
    expect(cold.body.reasons).toEqual([`${APPID}: no valid token (cold)`])
    expect(cold.body.degraded).toEqual(['store_unreachable', `no_token:${APPID}`])
    expect((await token(c.url)).status).toBe(503)

    // The held token's safe life runs out with Redis still down: not ready for that reason, and
    // not before.
    for (const r of [a, b]) {
      const expired = await until(
        async () => {
          const x = await readyz(r.url)
          if (x.status === 200) expect(Date.now()).toBeLessThan(expiresAt + 1000)
          return x
        },
        (x) => x.status === 503,
        'the held token runs out',
        TOKEN_LIFE_SECONDS * 1000 + 5000
      )
      expect(Date.now()).toBeGreaterThan(expiresAt - 1500)
      expect(expired.body).toEqual({
        ready: false,
        store_up: false,
        reasons: [`${APPID}: no valid token`],
        degraded: ['store_unreachable', `no_token:${APPID}`],
      })
      expect((await token(r.url)).status).toBe(503)
    }

    // Redis back, empty, on the same port: every replica fetches or adopts a token and the
    // degradation clears by itself (only /readyz is polled; nobody asks for a token).
    await redis.restart()
    for (const r of [a, b, c]) {
      const back = await until(
        () => readyz(r.url),
        (x) => x.status === 200 && x.body.degraded.length === 0,
        'the replica recovers by itself',
        25_000
      )
      expect(back.body).toEqual({ ready: true, store_up: true, reasons: [], degraded: [] })
      expect((await readyz(r.url, '?strict=true')).status).toBe(200)
      expect(await degradedGauge(r.url)).toEqual({})
    }
    const tokens = await Promise.all([a, b, c].map((r) => token(r.url)))
    expect(tokens.map((t) => t.status)).toEqual([200, 200, 200])
  }, 90_000)
})
