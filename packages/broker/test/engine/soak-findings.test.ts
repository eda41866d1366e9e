import { Redis } from 'ioredis'
import type { Simulator } from '@wxbroker/wechat-sim'
import { afterEach, describe, expect, it } from 'vitest'
import { createEngine, type EngineEvents, type TokenEngine } from '../../src/engine/index.js'
import { shanghaiDay } from '../../src/engine/clock.js'
import {
  app,
  calls,
  eventually,
  newAppid,
  startAppEngine,
  options,
  redisStore,
  SECRET,
  sleep,
  withSimAndRedis,
  type TestRedis,
} from './fixtures.js'

// What the combined-fault soak (pnpm chaos, docs/reliability.md) found, each pinned here.

describe('findings of the combined-fault soak', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  let engines: TokenEngine[] = []
  afterEach(async () => {
    await sim.admin.clearFaults()
    await Promise.all(engines.map((e) => e.stop()))
    engines = []
  })

  it('a store that lost its counters (every node restarted empty) gets the day’s count back', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    const store = redisStore([redis.url])
    const engine = createEngine(options(sim, [app(appid, { invalidateCooldownSeconds: 0 })], store))
    engines = [engine]
    await engine.start()
    await engine.getToken(appid)
    await engine.refresh(appid)
    await engine.refresh(appid)
    expect(engine.status()[0]!.quota.used).toBe(3)

    const direct = new Redis(redis.url)
    try {
      await direct.flushall() // what an empty restart of every node leaves
      const key = `${store.kind === 'redis' ? store.keyPrefix : ''}:quota:${appid}:/cgi-bin/token:${shanghaiDay(Date.now())}`
      // The next sync puts the count back; the next call counts on top of it.
      await eventually(async () => Number(await direct.get(key)) === 3, 'the count is back')
      await engine.refresh(appid)
      expect(Number(await direct.get(key))).toBe(4)
      expect(engine.status()[0]!.quota.used).toBe(4)
      expect(await calls(sim, '/cgi-bin/token', appid)).toBe(4)
    } finally {
      direct.disconnect()
    }
  })

  it('failed token calls earlier in the day do not hide a later refresh by someone else', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({
      appid,
      secret: SECRET,
      tokenExpiresIn: 60,
      tokenOverlapSeconds: 8,
    })
    const opts = options(
      sim,
      [
        app(appid, {
          refreshLeadSeconds: 15,
          foreignCheckSeconds: 1,
          invalidateCooldownSeconds: 0,
        }),
      ],
      redisStore([redis.url]),
      {
        tuning: {
          wechatOverlapSeconds: 8,
          retry: { attempts: 4, baseDelayMs: 10, maxDelayMs: 20 },
        },
      }
    )
    const engine = createEngine(opts)
    engines = [engine]
    const found: EngineEvents['foreignRefresh'][] = []
    engine.on('foreignRefresh', (f) => found.push(f))
    await engine.start()
    await engine.getToken(appid)
    await sleep(1500) // a check sets the day's baseline
    // Four attempts the broker counts and WeChat does not (-1 answers), then checks take note.
    await sim.admin.addFault({ endpoint: '/cgi-bin/token', errcode: -1, times: 4 })
    await expect(engine.refresh(appid)).rejects.toMatchObject({ code: 'wechat_error' })
    await sleep(2500)
    expect(found).toEqual([])
    // Someone else refreshes: WeChat counts one call more than the broker since the last check.
    const url = new URL('/cgi-bin/token', sim.url)
    url.search = new URLSearchParams({
      grant_type: 'client_credential',
      appid,
      secret: SECRET,
    }).toString()
    await (await fetch(url)).json()
    await eventually(() => found.length > 0, 'the foreign refresh is detected', 5000)
    expect(found[0]).toMatchObject({ evidence: 'count_drift' })
  })

  it('a report of the previous token while WeChat should still take it: the current one is checked, and replaced when revoked too', async () => {
    const { appid, engine } = await startAppEngine(sim, redis.url, { invalidateCooldownSeconds: 0 })
    engines = [engine]
    const previous = await engine.getToken(appid)
    const current = await engine.refresh(appid)
    // A leak: WeChat revokes the app's tokens, the one in its overlap included.
    await sim.admin.retireToken(appid, 'classic')
    expect((await sim.admin.checkToken(previous.accessToken)).valid).toBe(false)
    const result = await engine.invalidate(appid, previous.accessToken, 40001, 'svc')
    expect(result).toMatchObject({ refreshed: true, reason: 'refreshed' })
    expect(result.token.accessToken).not.toBe(current.accessToken)
    expect((await sim.admin.checkToken(result.token.accessToken)).valid).toBe(true)

    // A report of an older token while the current one is fine stays a stale report.
    const again = await engine.invalidate(appid, current.accessToken, 40001, 'svc')
    expect(again).toMatchObject({ refreshed: false, reason: 'stale_report' })
    expect(again.token.accessToken).toBe(result.token.accessToken)
  })

  it('a report of a token older than the previous one, still taken by WeChat: the current one is checked, and replaced when revoked too', async () => {
    // Two refreshes within WeChat's overlap leave three working classic tokens; stable tokens each
    // work until their own expiry, so a client may hold one several generations back (the soak's
    // #9 token-revoked: every client held the first stable token when the revoke came).
    const { appid, engine } = await startAppEngine(sim, redis.url, { invalidateCooldownSeconds: 0 })
    engines = [engine]
    const oldest = await engine.getToken(appid)
    await engine.refresh(appid)
    const current = await engine.refresh(appid)
    expect(engine.tokenOwner(oldest.accessToken)).toBeUndefined()
    expect((await sim.admin.checkToken(oldest.accessToken)).valid).toBe(true)
    // A leak: WeChat revokes every token of the app.
    await sim.admin.retireToken(appid, 'classic')
    const result = await engine.invalidate(appid, oldest.accessToken, 40001, 'svc')
    expect(result).toMatchObject({ refreshed: true, reason: 'refreshed' })
    expect(result.token.accessToken).not.toBe(current.accessToken)
    expect((await sim.admin.checkToken(result.token.accessToken)).valid).toBe(true)
  })
})
