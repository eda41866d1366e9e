import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startRedis } from '@wxbroker/testkit'
import { APP1, APP2, KEYS, expectError, startHarness, type Harness } from '../support/harness.js'
import { parsePrometheus } from '@wxbroker/testkit'

// A broker whose Redis is unreachable from the start: 503 store_unavailable, store_up 0, and not
// ready because it holds no token (design §3.7: the outage alone is a degradation, not a reason).

let h: Harness
let stopRedis: () => Promise<void>
beforeAll(async () => {
  const redis = await startRedis()
  stopRedis = redis.stopAll
  await redis.kill()
  h = await startHarness({ config: { store: { redis: redis.url, keyPrefix: 'wxbdown' } } })
})
afterAll(async () => {
  await h.close()
  await stopRedis()
})

describe('store unreachable', () => {
  it('token reads answer 503 store_unavailable with Retry-After', async () => {
    const res = await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.reader })
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    await expectError(res, 503, 'store_unavailable')
  })

  it('/readyz is 503 naming the apps without a token, degraded names the store; store_up is 0', async () => {
    const ready = await h.fetch('/readyz')
    expect(ready.status).toBe(503)
    expect(await ready.json()).toEqual({
      ready: false,
      store_up: false,
      reasons: [`${APP1}: no valid token (cold)`, `${APP2}: no valid token (cold)`],
      degraded: ['store_unreachable', `no_token:${APP1}`, `no_token:${APP2}`],
    })
    const m = parsePrometheus(await (await h.fetch('/metrics')).text())
    expect(m.get('wxbroker_store_up')).toBe(0)
    expect(m.get('wxbroker_degraded', { reason: 'store_unreachable' })).toBe(1)
    expect(m.get('wxbroker_degraded', { reason: `no_token:${APP1}` })).toBe(1)
  })
})
