import type { Simulator } from '@wxbroker/wechat-sim'
import { describe, expect, it } from 'vitest'
import { createEngine, EngineError, type EngineEvents } from '../../src/engine/index.js'
import {
  app,
  calls,
  newAppid,
  options,
  redisStore,
  SECRET,
  withSimAndRedis,
  type TestRedis,
} from './fixtures.js'
import { ManualClock } from './manual-clock.js'

describe('daily quota (guarantee 6)', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))

  it('stops upstream calls at the limit with a clear state and resumes after Asia/Shanghai midnight', async () => {
    const appid = newAppid()
    // 23:00 in Shanghai (15:00 UTC): midnight is an hour away, on both clocks.
    const start = Date.parse('2026-11-23T15:00:00Z')
    const clock = new ManualClock(start)
    await sim.admin.setClock(start)
    await sim.admin.registerApp({ appid, secret: SECRET })
    const engine = createEngine(
      options(
        sim,
        [app(appid, { dailyQuota: 3, quotaWarnRatio: 0.6, invalidateCooldownSeconds: 0 })],
        redisStore([redis.url]),
        {
          clock,
        }
      )
    )
    const quotaEvents: EngineEvents['quota'][] = []
    engine.on('quota', (e) => quotaEvents.push(e))
    await engine.start()
    try {
      await engine.getToken(appid)
      await engine.refresh(appid)
      expect(engine.status()[0]!.quota).toMatchObject({ used: 2, limit: 3, warn: true })
      await engine.refresh(appid)
      expect(await calls(sim, '/cgi-bin/token', appid)).toBe(3)

      const refused = await engine.refresh(appid).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(EngineError)
      expect(refused).toMatchObject({ code: 'quota_exhausted' })
      expect((refused as EngineError).retryAfterSeconds).toBe(3600)
      expect(await calls(sim, '/cgi-bin/token', appid)).toBe(3)
      expect(engine.status()[0]).toMatchObject({
        state: 'quota_exhausted',
        quota: { used: 3, limit: 3 },
      })
      expect(quotaEvents.map((e) => e.level)).toEqual(['ok', 'warn', 'exhausted', 'exhausted'])
      // The token already held keeps being served.
      expect((await engine.getToken(appid)).generation).toBe(3)

      // Past midnight in Shanghai the counter starts again.
      await sim.admin.advanceClock(3600_000 + 1000)
      clock.advance(3600_000 + 1000)
      const after = await engine.refresh(appid)
      expect(after.generation).toBe(4)
      expect(await calls(sim, '/cgi-bin/token', appid)).toBe(4)
      expect(engine.status()[0]).toMatchObject({
        state: 'ok',
        quota: { used: 1, limit: 3, warn: false },
      })
    } finally {
      await engine.stop()
    }
  })
})

describe('quota reconciliation', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))

  it("keeps WeChat's own figure beside the broker's count, on every replica", async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET, dailyTokenQuota: 50 })
    const store = redisStore([redis.url])
    const opts = options(sim, [app(appid, { dailyQuota: 40 })], store, {
      tuning: { reconcileQuota: true },
    })
    const [refresher, other] = [createEngine(opts), createEngine(opts)]
    await refresher.start()
    try {
      await refresher.getToken(appid)
      await expect
        .poll(() => refresher.status()[0]!.quota.wechat)
        .toMatchObject({ used: 1, limit: 50 })
      expect(refresher.status()[0]!.quota).toMatchObject({ used: 1, limit: 40 })
      expect(await calls(sim, '/cgi-bin/openapi/quota/get', appid)).toBe(1)
      // Another replica learns WeChat's figure from the store on its sync.
      await other.start()
      await expect.poll(() => other.status()[0]!.quota.wechat).toMatchObject({ used: 1, limit: 50 })
    } finally {
      await Promise.all([refresher.stop(), other.stop()])
    }
  })
})
