import type { Simulator } from '@wxbroker/wechat-sim'
import { afterAll, describe, expect, it } from 'vitest'
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
})
