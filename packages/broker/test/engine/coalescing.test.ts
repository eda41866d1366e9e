import type { Simulator } from '@wxbroker/wechat-sim'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { createEngine, type EngineEvents, type TokenEngine } from '../../src/engine/index.js'
import {
  app,
  calls,
  eventually,
  newAppid,
  options,
  redisStore,
  SECRET,
  sleep,
  withSimAndRedis,
  type TestRedis,
} from './fixtures.js'
import { ManualClock } from './manual-clock.js'

// Guarantee 1 across replicas when the announcement does not arrive: a replica that missed
// another's new generation and takes the lock after that write must find the write under the lock
// (the double-check read) instead of asking WeChat a second time.

/** Default classic timings: 7200 s tokens are due 600 s before expiry, plus at most 0.2 s jitter. */
const PAST_PLANNED_REFRESH_MS = (7200 - 600 + 1) * 1000

describe('coalescing across replicas without the announcement (guarantee 1)', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  let engines: TokenEngine[] = []
  afterEach(async () => {
    await Promise.all(engines.map((e) => e.stop()))
    engines = []
  })

  /**
   * A Redis user that may run every command on every key and publish, but not subscribe: a
   * replica connecting as it never hears an announcement (its subscriptions are refused).
   */
  async function deafUrl(): Promise<string> {
    const admin = new Redis(redis.url)
    await admin.call(
      'ACL',
      'SETUSER',
      'deaf',
      'on',
      '>deaf-password',
      '~*',
      '&*',
      '+@all',
      '-subscribe',
      '-psubscribe',
      '-ssubscribe'
    )
    admin.disconnect()
    return `redis://deaf:deaf-password@127.0.0.1:${redis.port}`
  }

  it('a replica that missed the announcement takes the lock after the write: it adopts the stored token, no second upstream call', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    const store = redisStore([redis.url])
    if (store.kind !== 'redis') throw new Error('unreachable')
    const deaf = { ...store, nodes: [await deafUrl()] }
    // Each replica has its own virtual clock, so each one's scheduled refresh fires when the test
    // says; a periodic store sync far away keeps it from catching up on its own.
    const start = Date.now()
    const clocks = {
      a: new ManualClock(start),
      b: new ManualClock(start),
      c: new ManualClock(start),
    }
    const make = (clock: ManualClock, on = store): TokenEngine =>
      createEngine(options(sim, [app(appid)], on, { clock, tuning: { syncIntervalMs: 600_000 } }))
    const a = make(clocks.a)
    const b = make(clocks.b, deaf)
    // A bystander that only listens: shows the announcement really went out.
    const c = make(clocks.c)
    engines = [a, b, c]
    const lockOfB: EngineEvents['lockAcquire'][] = []
    const refreshesOfB: EngineEvents['refresh'][] = []
    b.on('lockAcquire', (e) => lockOfB.push(e))
    b.on('refresh', (e) => refreshesOfB.push(e))

    await a.start()
    const first = await a.getToken(appid)
    await Promise.all([b.start(), c.start()])
    expect((await b.getToken(appid)).accessToken).toBe(first.accessToken)
    expect((await c.getToken(appid)).accessToken).toBe(first.accessToken)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(1)

    // A's scheduled refresh: a new generation, written and announced.
    clocks.a.advance(PAST_PLANNED_REFRESH_MS)
    await eventually(() => a.peekToken(appid)?.generation === 2, 'A refreshes')
    await eventually(() => c.peekToken(appid)?.generation === 2, 'the bystander hears of it')
    await sleep(200)
    expect(b.peekToken(appid)?.generation).toBe(1) // B heard nothing
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(2)

    // B's own scheduled refresh comes due: it takes the (free) lock after A's write.
    clocks.b.advance(PAST_PLANNED_REFRESH_MS)
    await eventually(() => b.peekToken(appid)?.generation === 2, 'B takes the stored generation')
    expect(b.peekToken(appid)?.accessToken).toBe(a.peekToken(appid)?.accessToken)
    expect(lockOfB.filter((e) => e.result === 'acquired')).toHaveLength(1)
    await b.stop() // lets anything B still had in flight land before counting
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(2)
    expect(refreshesOfB).toEqual([])
  })
})
