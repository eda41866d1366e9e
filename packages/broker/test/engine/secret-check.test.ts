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
  withSimAndRedis,
  type TestRedis,
} from './fixtures.js'

describe('a replica whose secret WeChat refuses says so before it ever refreshes', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  let engines: TokenEngine[] = []
  afterEach(async () => {
    await Promise.all(engines.map((e) => e.stop()))
    engines = []
  })

  it('checked at start with a call that retires nothing; the replica still serves the shared token', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    const store = redisStore([redis.url])
    const good = options(sim, [app(appid)], store)
    const wrong = options(sim, [app(appid, { secret: 'a-mistyped-secret' })], store)
    const checked = (o: typeof good) => ({
      ...o,
      wechat: { ...o.wechat, verifySecretOnStart: true },
    })
    const healthy = createEngine(checked(good))
    const mistaken = createEngine(checked(wrong))
    const other = createEngine(checked(good))
    engines = [healthy, mistaken, other]
    await healthy.start()
    const token = await healthy.getToken(appid)
    // The replica that fetched the token itself has its secret proven without another call.
    expect(healthy.status()[0]!.secret).toBe('ok')
    expect(await calls(sim, '/cgi-bin/stable_token', appid)).toBe(0)

    await mistaken.start()
    await other.start()
    expect((await mistaken.getToken(appid)).accessToken).toBe(token.accessToken)
    await expect.poll(() => mistaken.status()[0]!.secret).toBe('rejected')
    expect(mistaken.status()[0]!.lastError).toMatchObject({ errcode: 40125 })
    await expect.poll(() => other.status()[0]!.secret).toBe('ok')
    // Two normal-mode stable_token calls (one per replica that took the token from the store);
    // the classic token was fetched once and never retired.
    expect(await calls(sim, '/cgi-bin/stable_token', appid)).toBe(2)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(1)
    expect((await sim.admin.checkToken(token.accessToken)).valid).toBe(true)
  })
})
