import type { Simulator } from '@wxbroker/wechat-sim'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createEngine,
  EngineError,
  type EngineEvents,
  type ServedToken,
  type TokenEngine,
} from '../../src/engine/index.js'
import {
  app,
  calls,
  heldRetired,
  newAppid,
  options,
  redisStore,
  SECRET,
  sleep,
  withSimAndRedis,
  type Read,
  type TestRedis,
} from './fixtures.js'
import { ManualClock } from './manual-clock.js'

describe('quota guards say which limit refused, and stop only what they guard', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  let engines: TokenEngine[] = []
  afterEach(async () => {
    await Promise.all(engines.map((e) => e.stop()))
    engines = []
  })

  it('a 45009 on a stable force_refresh blocks only forcing: normal-mode refreshes keep their schedule', async () => {
    const appid = newAppid()
    // WeChat allows one force a day here; the broker believes it has 20 (its count was lost, e.g.
    // the store restarted empty). Tokens live 8 s and are renewed in normal mode in their last 4 s.
    await sim.admin.registerApp({
      appid,
      secret: SECRET,
      tokenExpiresIn: 8,
      tokenOverlapSeconds: 4,
      forceRefreshDailyLimit: 1,
    })
    const engine = createEngine(
      options(
        sim,
        [app(appid, { tokenKind: 'stable', invalidateCooldownSeconds: 0 })],
        redisStore([redis.url]),
        {
          tuning: {
            wechatOverlapSeconds: 4,
            forceRefreshMinIntervalSeconds: 0,
            forceRefreshDailyLimit: 20,
          },
        }
      )
    )
    engines = [engine]
    await engine.start()
    await engine.getToken(appid)
    const forced = await engine.refresh(appid)
    expect(forced.generation).toBe(2)

    const refused = await engine.refresh(appid).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(EngineError)
    expect(refused).toMatchObject({
      code: 'quota_exhausted',
      limit: 'force_refresh_daily',
      wechat: { errcode: 45009 },
    })
    const status = engine.status()[0]!
    expect(status.state).toBe('ok')
    expect(status.quota).toMatchObject({ exhausted: null, forceRefresh: { used: 20, limit: 20 } })
    // A guard, not a failure: nothing for the WeChatNeedsHuman alert (last_wechat_errcode).
    expect(status.lastError).toBeNull()
    const stableCalls = await calls(sim, '/cgi-bin/stable_token', appid)

    // Forcing stays refused without asking WeChat again...
    await expect(engine.refresh(appid)).rejects.toMatchObject({ limit: 'force_refresh_daily' })
    expect(await calls(sim, '/cgi-bin/stable_token', appid)).toBe(stableCalls)
    // ...while readers keep a valid token and the scheduled normal-mode renewal happens.
    const reads: Read[] = []
    const deadline = Date.now() + 12_000
    let latest: ServedToken = forced
    while (latest.generation < 3 && Date.now() < deadline) {
      latest = await engine.getToken(appid)
      reads.push({ at: Date.now(), token: latest.accessToken, expiresAt: latest.expiresAt })
      await sleep(100)
    }
    expect(latest.generation).toBe(3)
    expect(await heldRetired(sim, appid, 'stable', reads)).toEqual([])
    expect(engine.status()[0]!.state).toBe('ok')
  })

  it('report-driven refreshes are bounded per app and per client per day, across replicas', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    const opts = options(
      sim,
      [
        app(appid, {
          invalidateCooldownSeconds: 0,
          reportRefreshDailyLimit: 2,
          clientReportRefreshDailyLimit: 1,
        }),
      ],
      redisStore([redis.url])
    )
    engines = [createEngine(opts), createEngine(opts)]
    const [a, b] = engines as [TokenEngine, TokenEngine]
    const results: EngineEvents['invalidation'][] = []
    for (const e of engines) {
      await e.start()
      e.on('invalidation', (event) => results.push(event))
    }
    const t0 = await a.getToken(appid)
    const first = await a.invalidate(appid, t0.accessToken, 40001, 'client-a')
    expect(first).toMatchObject({ refreshed: true, reason: 'refreshed' })
    // The same client again, on the other replica: its own bound (1) is used up.
    const again = await b.invalidate(appid, first.token.accessToken, 40001, 'client-a')
    expect(again).toMatchObject({ refreshed: false, reason: 'limited' })
    expect(again.token.accessToken).toBe(first.token.accessToken)
    const other = await b.invalidate(appid, first.token.accessToken, 40001, 'client-b')
    expect(other).toMatchObject({ refreshed: true, reason: 'refreshed' })
    // The app's bound (2) is used up for every client.
    const third = await a.invalidate(appid, other.token.accessToken, 40001, 'client-c')
    expect(third).toMatchObject({ refreshed: false, reason: 'limited' })
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(3)
    expect(results.map((r) => [r.result, r.client])).toEqual([
      ['refreshed', 'client-a'],
      ['limited', 'client-a'],
      ['refreshed', 'client-b'],
      ['limited', 'client-c'],
    ])
    await b.getToken(appid)
    await expect
      .poll(() => b.status()[0]!.quota.reports)
      .toEqual({ used: 2, limit: 2, clientLimit: 1 })
  })

  it('reports and admin refreshes stop short of the quota share kept for scheduled refreshes', async () => {
    const appid = newAppid()
    // 09:00 in Shanghai: a few rotations fit in the same quota day.
    const start = Date.parse('2026-11-24T01:00:00Z')
    const clock = new ManualClock(start)
    await sim.admin.setClock(start)
    try {
      await sim.admin.registerApp({ appid, secret: SECRET })
      const engine = createEngine(
        options(
          sim,
          [app(appid, { dailyQuota: 4, scheduledReserve: 2, invalidateCooldownSeconds: 0 })],
          redisStore([redis.url]),
          { clock }
        )
      )
      engines = [engine]
      await engine.start()
      const first = await engine.getToken(appid) // cold start: 1 of 4
      await engine.refresh(appid) // admin: 2 of 4, the last one open to it
      const refused = await engine.refresh(appid).catch((e: unknown) => e)
      expect(refused).toMatchObject({ code: 'quota_exhausted', limit: 'scheduled_reserve' })
      expect((refused as EngineError).retryAfterSeconds).toBeGreaterThan(0)
      const current = await engine.getToken(appid)
      const report = await engine.invalidate(appid, current.accessToken, 40001, 'svc')
      expect(report).toMatchObject({ refreshed: false, reason: 'limited' })
      expect(await calls(sim, '/cgi-bin/token', appid)).toBe(2)
      expect(engine.status()[0]).toMatchObject({
        state: 'ok',
        quota: { used: 2, limit: 4, scheduledReserve: 2, exhausted: null },
      })
      expect(first.generation).toBe(1)

      // The scheduled refresh may use the reserve: the token keeps rotating.
      const rotate = async (generation: number) => {
        clock.advance(6600_000 + 1000)
        await sim.admin.advanceClock(6600_000 + 1000)
        await expect.poll(() => engine.status()[0]!.generation, { timeout: 5000 }).toBe(generation)
      }
      await rotate(3)
      await rotate(4)
      expect(await calls(sim, '/cgi-bin/token', appid)).toBe(4)
      expect(engine.status()[0]!.quota).toMatchObject({ used: 4, exhausted: null })
    } finally {
      await sim.admin.setClock(Date.now())
    }
  })
})
