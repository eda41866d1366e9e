import type { Simulator } from '@wxbroker/wechat-sim'
import { afterEach, describe, expect, it } from 'vitest'
import { createEngine, type TokenEngine } from '../../src/engine/index.js'
import {
  app,
  calls,
  newAppid,
  options,
  redisStore,
  SECRET,
  sleep,
  withSimAndRedis,
  type TestRedis,
  shortLivedApp,
} from './fixtures.js'

/**
 * Readers on every replica ask continuously; each token is checked at WeChat (the simulator) at the
 * end of the longest window any reader was told it may use it: a client honouring expires_in must
 * never hold a retired token.
 */
async function readContinuously(engines: TokenEngine[], appid: string, sim: Simulator, ms: number) {
  const toldUntil = new Map<string, number>()
  const generations = new Map<number, string>()
  const failures: string[] = []
  const checks: Promise<void>[] = []
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    for (const engine of engines) {
      const served = await engine.getToken(appid)
      generations.set(served.generation, served.accessToken)
      const known = toldUntil.get(served.accessToken)
      if (known === undefined) {
        checks.push(
          (async () => {
            // Re-read the window when the check runs: later readers may have been told longer.
            for (;;) {
              const until = toldUntil.get(served.accessToken)!
              const wait = until - 150 - Date.now()
              if (wait <= 0) break
              await sleep(Math.min(wait, 500))
            }
            const check = await sim.admin.checkToken(served.accessToken)
            if (!check.valid)
              failures.push(
                `generation ${served.generation} retired (errcode ${check.errcode}) while a reader may still use it`
              )
          })()
        )
      }
      toldUntil.set(served.accessToken, Math.max(known ?? 0, served.expiresAt))
    }
    await sleep(50)
  }
  await Promise.all(checks)
  return { failures, generations }
}

/** Stops the engines (letting a refresh in flight land) and returns the highest generation. */
async function settledGeneration(engines: TokenEngine[]): Promise<number> {
  await Promise.all(engines.map((e) => e.stop()))
  return Math.max(...engines.map((e) => e.status()[0]!.generation ?? 0))
}

describe('proactive rotation (guarantees 2 and 3)', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  let engines: TokenEngine[] = []
  afterEach(async () => {
    await Promise.all(engines.map((e) => e.stop()))
    engines = []
  })

  it('classic: over 5+ rotations readers never hold a retired token and upstream calls are the minimum', async () => {
    // 4 s tokens, 1 s overlap, 2 s lead (lead > overlap, as 600 s and 300 s in production): a
    // rotation every ~2 s, and each token served until 3 s, a second before WeChat's expiry. A
    // reader told the token lasts until its expiry would hold it past its retirement.
    const { appid, opts } = await shortLivedApp(sim, redis.url, {
      lifeSeconds: 4,
      overlapSeconds: 1,
      leadSeconds: 2,
    })
    engines = [createEngine(opts), createEngine(opts), createEngine(opts)]
    await Promise.all(engines.map((e) => e.start()))

    const { failures, generations } = await readContinuously(engines, appid, sim, 11_500)

    expect(failures).toEqual([])
    expect(Math.max(...generations.keys())).toBeGreaterThanOrEqual(6)
    // One upstream call per generation: no replica refreshed on its own.
    const settled = await settledGeneration(engines)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(settled)
    expect(new Set(generations.values()).size).toBe(generations.size)
  })

  it('stable: renews in normal mode inside WeChat’s last window, readers never hold an expired token', async () => {
    // 6 s stable tokens; WeChat renews in the last 3 s.
    const { appid, opts } = await shortLivedApp(sim, redis.url, { lifeSeconds: 6, kind: 'stable' })
    engines = [createEngine(opts), createEngine(opts)]
    await Promise.all(engines.map((e) => e.start()))

    const { failures, generations } = await readContinuously(engines, appid, sim, 12_000)

    expect(failures).toEqual([])
    expect(Math.max(...generations.keys())).toBeGreaterThanOrEqual(3)
    const settled = await settledGeneration(engines)
    expect(await calls(sim, '/cgi-bin/stable_token', appid)).toBe(settled)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(0)
    // Proactive (guarantee 2): each token was renewed well before the previous one expired, at
    // the planned 0.8 x window (2.4 s) before it, not when readers found it about to expire.
    const { all } = await sim.admin.tokens(appid, 'stable')
    expect(all).toHaveLength(settled)
    const late = all
      .slice(1)
      .map((next, i) => ({ renewedBeforeExpiryMs: all[i]!.expiresAt - next.issuedAt }))
      .filter((r) => r.renewedBeforeExpiryMs < 1500)
    expect(late).toEqual([])
  })

  /** A started stable-kind engine with no report cooldown, so only the force guard limits reports. */
  async function stableEngine(guard: { minIntervalSeconds: number; dailyLimit: number }) {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    const opts = options(
      sim,
      [app(appid, { tokenKind: 'stable', invalidateCooldownSeconds: 0 })],
      redisStore([redis.url]),
      {
        tuning: {
          forceRefreshMinIntervalSeconds: guard.minIntervalSeconds,
          forceRefreshDailyLimit: guard.dailyLimit,
        },
      }
    )
    const engine = createEngine(opts)
    engines = [engine]
    await engine.start()
    return { appid, engine, first: await engine.getToken(appid) }
  }

  it('stable: a report forces a refresh only when normal mode returns the failed token, within the force guard', async () => {
    const { appid, engine, first } = await stableEngine({ minIntervalSeconds: 30, dailyLimit: 20 })
    expect(await calls(sim, '/cgi-bin/stable_token', appid)).toBe(1)

    // WeChat still considers the token valid, so normal mode hands it back; only a force replaces it.
    const forced = await engine.invalidate(appid, first.accessToken, 40001)
    expect(forced).toMatchObject({ refreshed: true, reason: 'refreshed' })
    expect(forced.token.accessToken).not.toBe(first.accessToken)
    expect(await calls(sim, '/cgi-bin/stable_token', appid)).toBe(3)
    expect((await sim.admin.checkToken(first.accessToken)).valid).toBe(false)

    // A second force within 30 s is refused by the guard: one normal-mode call, no force. The
    // count is what shows the engine's guard refused: WeChat's own 30 s spacing would answer a
    // too-early force with the current token, one call more.
    const guarded = await engine.invalidate(appid, forced.token.accessToken, 40001)
    expect(guarded).toMatchObject({ refreshed: false, reason: 'cooldown' })
    expect(guarded.token.accessToken).toBe(forced.token.accessToken)
    expect(await calls(sim, '/cgi-bin/stable_token', appid)).toBe(4)
  })

  it('stable: the daily force_refresh limit refuses the report (limited), without calling WeChat', async () => {
    const { appid, engine, first } = await stableEngine({ minIntervalSeconds: 0, dailyLimit: 1 })
    const forced = await engine.invalidate(appid, first.accessToken, 40001)
    expect(forced.refreshed).toBe(true)
    const before = await calls(sim, '/cgi-bin/stable_token', appid)

    const refused = await engine.invalidate(appid, forced.token.accessToken, 40001)
    expect(refused).toMatchObject({ refreshed: false, reason: 'limited' })
    // Only the normal-mode call was made; the second force was refused before WeChat. (Another
    // guard, the daily quota, also answers `limited`: the count tells them apart.)
    expect(await calls(sim, '/cgi-bin/stable_token', appid)).toBe(before + 1)
  })
})
