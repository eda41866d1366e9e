import type { Simulator } from '@wxbroker/wechat-sim'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
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
import { Replica } from './replica.js'

describe('cold start across replicas (guarantee 1)', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  const replicas: Replica[] = []
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.process.stop('SIGKILL')))
  })

  it('5 replicas in separate processes with 200 concurrent readers each make exactly one upstream call', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    const opts = options(sim, [app(appid)], redisStore([redis.url]))
    replicas.push(...(await Promise.all(Array.from({ length: 5 }, () => Replica.start(opts)))))

    const answers = await Promise.all(
      replicas.map((r) =>
        r.call<{ tokens: string[]; fulfilled: number; errors: string[] }>('readers', {
          appid,
          count: 200,
        })
      )
    )

    for (const answer of answers) {
      expect(answer.errors).toEqual([])
      expect(answer.fulfilled).toBe(200)
    }
    const tokens = new Set(answers.flatMap((a) => a.tokens))
    expect(tokens.size).toBe(1)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(1)
    const [token] = [...tokens]
    expect((await sim.admin.checkToken(token!)).valid).toBe(true)
    // Exactly one replica refreshed; the rest were served by the announcement or the store.
    const successes = replicas.map((r) => r.count('refresh', (e) => e.result === 'success'))
    expect(successes.reduce((a, b) => a + b, 0)).toBe(1)
  })

  describe('with the lock held while the others start', () => {
    let engines: TokenEngine[] = []
    afterEach(async () => {
      await Promise.all(engines.map((e) => e.stop()))
      engines = []
      await sim.admin.clearFaults()
    })

    it('4 replicas with 50 concurrent readers each: the first refresher holds the lock, the rest contend and wait, one upstream call', async () => {
      const appid = newAppid()
      await sim.admin.registerApp({ appid, secret: SECRET })
      // The first token call takes 1.5 s: whoever makes it holds the lock (extended meanwhile)
      // while every other replica's cold start finds it taken.
      await sim.admin.addFault({ endpoint: '/cgi-bin/token', type: 'latency', ms: 1500, times: 1 })
      const opts = options(sim, [app(appid)], redisStore([redis.url]))
      engines = Array.from({ length: 4 }, () => createEngine(opts))
      const locks: EngineEvents['lockAcquire'][] = []
      const refreshes: EngineEvents['refresh'][] = []
      for (const engine of engines) {
        engine.on('lockAcquire', (e) => locks.push(e))
        engine.on('refresh', (e) => refreshes.push(e))
      }
      await Promise.all(engines.map((e) => e.start()))

      const results = await Promise.allSettled(
        engines.flatMap((engine) => Array.from({ length: 50 }, () => engine.getToken(appid)))
      )

      expect(results.filter((r) => r.status === 'rejected')).toEqual([])
      const tokens = new Set(results.map((r) => r.status === 'fulfilled' && r.value.accessToken))
      expect(tokens.size).toBe(1)
      expect(await calls(sim, '/cgi-bin/token', appid)).toBe(1)
      // The contended path ran (that is what this test is for), and only one replica refreshed.
      expect(locks.filter((e) => e.result === 'contended').length).toBeGreaterThan(0)
      expect(refreshes.filter((e) => e.result === 'success')).toHaveLength(1)
    })
  })
})
