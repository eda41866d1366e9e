import type { Simulator } from '@wxbroker/wechat-sim'
import { afterEach, describe, expect, it } from 'vitest'
import { createEngine, type TokenEngine } from '../../src/engine/index.js'
import {
  app,
  calls,
  newAppid,
  startAppEngine,
  options,
  redisStore,
  SECRET,
  sleep,
  withSimAndRedis,
  type TestRedis,
} from './fixtures.js'

// What the WeChat-compatible gateway asks of the engine beyond /v1: which app a presented token
// belongs to, WeChat's verdict on a token, and a token with enough life left for a stable-shaped
// answer.

describe('engine calls for the gateway', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  let engines: TokenEngine[] = []
  afterEach(async () => {
    await Promise.all(engines.map((e) => e.stop()))
    engines = []
  })

  it('tokenOwner knows the current token and the one before it, nothing else', async () => {
    const { appid, engine } = await startAppEngine(sim, redis.url, { invalidateCooldownSeconds: 0 })
    engines = [engine]
    const first = await engine.getToken(appid)
    expect(engine.tokenOwner(first.accessToken)).toEqual({ appid, current: true })
    const second = await engine.refresh(appid)
    expect(engine.tokenOwner(second.accessToken)).toEqual({ appid, current: true })
    expect(engine.tokenOwner(first.accessToken)).toEqual({ appid, current: false })
    const third = await engine.refresh(appid)
    // Only one predecessor is remembered.
    expect(engine.tokenOwner(first.accessToken)).toBeUndefined()
    expect(engine.tokenOwner(third.accessToken)).toEqual({ appid, current: true })
    expect(engine.tokenOwner('never-issued')).toBeUndefined()
  })

  it('checkToken asks WeChat once per token and remembers the verdict', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    const engine = createEngine(options(sim, [app(appid)], redisStore([redis.url])))
    engines = [engine]
    await engine.start()
    const served = await engine.getToken(appid)
    const asked = (): Promise<number> => calls(sim, '/cgi-bin/openapi/quota/get', appid)
    expect(await engine.checkToken(appid, served.accessToken)).toBe('valid')
    await sim.admin.retireToken(appid, 'classic')
    // Remembered: no second question within the window.
    expect(await engine.checkToken(appid, served.accessToken)).toBe('valid')
    expect(await asked()).toBe(1)
    expect(await engine.checkToken(appid, 'a-token-wechat-never-issued')).toBe('invalid')
    await sim.admin.addFault({ endpoint: '/cgi-bin/openapi/quota/get', errcode: -1 })
    expect(await engine.checkToken(appid, 'another-unknown-token')).toBe('unknown')
  })

  it('getToken with minExpiresIn replaces a stable token in WeChat’s renew window at once', async () => {
    const appid = newAppid()
    // Stable tokens live 8 s; WeChat renews in normal mode in their last 4 s; the broker would
    // renew at 80% of that window (3.2 s before expiry).
    await sim.admin.registerApp({
      appid,
      secret: SECRET,
      tokenExpiresIn: 8,
      tokenOverlapSeconds: 4,
    })
    const engine = createEngine(
      options(sim, [app(appid, { tokenKind: 'stable' })], redisStore([redis.url]), {
        tuning: { wechatOverlapSeconds: 4 },
      })
    )
    engines = [engine]
    await engine.start()
    const first = await engine.getToken(appid)
    await sleep(first.expiresAt - Date.now() - 3700) // 3.7 s left: in WeChat's window, not yet due
    const plain = await engine.getToken(appid)
    expect(plain.generation).toBe(first.generation)
    expect(plain.expiresIn).toBeLessThan(5)
    const fresh = await engine.getToken(appid, { minExpiresIn: 5 })
    expect(fresh.generation).toBe(first.generation + 1)
    expect(fresh.expiresIn).toBeGreaterThanOrEqual(5)
    // Before the window, nothing is replaced early: the answer is the token as it is.
    const again = await engine.getToken(appid, { minExpiresIn: 60 })
    expect(again.generation).toBe(fresh.generation)
  })
})
