import type { Simulator } from '@wxbroker/wechat-sim'
import { afterAll, describe, expect, it } from 'vitest'
import { createEngine, type EngineEvents, type TokenEngine } from '../../src/engine/index.js'
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

describe('compare-and-refresh (guarantee 4)', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  let engines: TokenEngine[] = []
  afterAll(async () => {
    await Promise.all(engines.map((e) => e.stop()))
  })

  it('1000 concurrent reports of the current token: one upstream call; of an old token: none; within the cooldown: none', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    const opts = options(
      sim,
      [app(appid, { invalidateCooldownSeconds: 30 })],
      redisStore([redis.url])
    )
    engines = [createEngine(opts), createEngine(opts)]
    const invalidations: EngineEvents['invalidation'][] = []
    const refreshedBy: number[] = []
    for (const [i, e] of engines.entries()) {
      await e.start()
      e.on('invalidation', (event) => invalidations.push(event))
      e.on('refresh', (event) => {
        if (event.reason === 'invalidated' && event.result === 'success') refreshedBy.push(i)
      })
    }
    const current = await engines[0]!.getToken(appid)
    await engines[1]!.getToken(appid)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(1)

    // The token dies at WeChat; reports arrive on both replicas at once.
    await sim.admin.retireToken(appid, 'classic')
    const reports = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        engines[i % 2]!.invalidate(appid, current.accessToken, 40001)
      )
    )
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(2)
    const fresh = reports[0]!.token.accessToken
    expect(fresh).not.toBe(current.accessToken)
    for (const r of reports) {
      expect(r.token.accessToken).toBe(fresh)
      expect(r.refreshed).toBe(true)
    }
    expect((await sim.admin.checkToken(fresh)).valid).toBe(true)

    // Reports of the old token are stale: no call, the current token comes back.
    const stale = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        engines[i % 2]!.invalidate(appid, current.accessToken, 40001)
      )
    )
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(2)
    expect(
      stale.every(
        (r) => r.reason === 'stale_report' && !r.refreshed && r.token.accessToken === fresh
      )
    ).toBe(true)

    // The fresh token reported within the cooldown, to the replica that did not refresh (the
    // cooldown is kept in the store, so it holds across replicas): refused, no call.
    expect(refreshedBy).toHaveLength(1)
    const other = engines[1 - refreshedBy[0]!]!
    const cooled = await other.invalidate(appid, fresh, 40001)
    expect(cooled).toMatchObject({ refreshed: false, reason: 'cooldown' })
    expect(cooled.token.accessToken).toBe(fresh)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(2)
    expect(invalidations.filter((e) => e.result === 'cooldown')).toHaveLength(1)
  })
})
