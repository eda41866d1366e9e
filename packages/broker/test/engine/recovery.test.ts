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
  readFor,
  withSimAndRedis,
  type TestRedis,
} from './fixtures.js'
import { Replica } from './replica.js'

describe('a failed forced refresh says what happened and leaves no replica failing', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  let engines: TokenEngine[] = []
  afterEach(async () => {
    await sim.admin.clearFaults()
    await Promise.all(engines.map((e) => e.stop()))
    engines = []
  })

  it('WeChat -1: 502 with the error, state ok on every replica, the schedule untouched, recovery seen by all', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    const opts = options(
      sim,
      [app(appid, { invalidateCooldownSeconds: 0 })],
      redisStore([redis.url])
    )
    engines = [createEngine(opts), createEngine(opts)]
    const [a, b] = engines as [TokenEngine, TokenEngine]
    const locks: EngineEvents['lockAcquire'][] = []
    for (const e of engines) await e.start()
    a.on('lockAcquire', (e) => locks.push(e))
    const first = await a.getToken(appid)
    await b.getToken(appid)

    // Every attempt of one refresh (4 with retries) answers -1.
    await sim.admin.addFault({ endpoint: '/cgi-bin/token', errcode: -1, times: 4 })
    const failure = await a.refresh(appid).catch((e: unknown) => e)
    expect(failure).toBeInstanceOf(EngineError)
    expect(failure).toMatchObject({ code: 'wechat_error', wechat: { errcode: -1 } })
    const acquiredAfterFailure = locks.length

    // The token held is still good: both replicas keep serving it and neither is failing; both
    // report the same last error.
    for (const e of engines) {
      expect((await e.getToken(appid)).accessToken).toBe(first.accessToken)
    }
    await expect
      .poll(() => engines.map((e) => [e.status()[0]!.state, e.status()[0]!.lastError?.errcode]))
      .toEqual([
        ['ok', -1],
        ['ok', -1],
      ])
    // No retry loop: nothing takes the lock again until the token is due (hours away).
    await sleep(2000)
    expect(locks.length).toBe(acquiredAfterFailure)

    // WeChat has recovered: the next forced refresh works, and every replica shows it.
    const fresh = await a.refresh(appid)
    expect(fresh.generation).toBe(first.generation + 1)
    await expect
      .poll(() =>
        engines.map((e) => [e.status()[0]!.generation, e.status()[0]!.lastRefresh?.reason])
      )
      .toEqual([
        [fresh.generation, 'admin'],
        [fresh.generation, 'admin'],
      ])
  })

  it('a forced refresh that timed out (WeChat may have issued a token): readers are capped, the broker recovers', async () => {
    const appid = newAppid()
    // Tokens live 60 s; a replaced one works 6 s more.
    await sim.admin.registerApp({
      appid,
      secret: SECRET,
      tokenExpiresIn: 60,
      tokenOverlapSeconds: 6,
    })
    const base = options(
      sim,
      [app(appid, { invalidateCooldownSeconds: 0, refreshLeadSeconds: 12 })],
      redisStore([redis.url]),
      {
        tuning: {
          wechatOverlapSeconds: 6,
          retry: { attempts: 1, baseDelayMs: 40, maxDelayMs: 200 },
        },
      }
    )
    const engine = createEngine({ ...base, wechat: { ...base.wechat, timeoutMs: 300 } })
    engines = [engine]
    await engine.start()
    const first = await engine.getToken(appid)
    const refreshes: EngineEvents['refresh'][] = []
    engine.on('refresh', (e) => refreshes.push(e))

    // WeChat handles the request (issues a token) but answers after the broker gave up.
    await sim.admin.addFault({ endpoint: '/cgi-bin/token', holdAfterMs: 1000 })
    const failure = await engine.refresh(appid).catch((e: unknown) => e)
    expect(failure).toMatchObject({
      code: 'wechat_error',
      wechat: { errcode: -1, errmsg: 'WeChat could not be reached (timeout)' },
    })
    // Served no longer than WeChat may keep the old token, then replaced without a reader's help.
    const capped = await engine.getToken(appid)
    expect(capped.accessToken).toBe(first.accessToken)
    expect(capped.expiresIn).toBeLessThanOrEqual(6)
    const reads = await readFor([engine], appid, 3000)
    expect(refreshes.some((e) => e.reason === 'recovery' && e.result === 'success')).toBe(true)
    expect(reads.at(-1)!.token).not.toBe(first.accessToken)
    expect(await heldRetired(sim, appid, 'classic', reads)).toEqual([])
  })
})

describe('a refresher killed after WeChat issued its token (guarantee 3 across crashes)', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  let replicas: Replica[] = []
  let engines: TokenEngine[] = []
  afterEach(async () => {
    await sim.admin.clearFaults()
    await Promise.all(replicas.map((r) => r.process.stop('SIGKILL')))
    await Promise.all(engines.map((e) => e.stop()))
    replicas = []
    engines = []
  })

  it('the survivor caps what it serves at once and replaces the token nobody recorded', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({
      appid,
      secret: SECRET,
      tokenExpiresIn: 60,
      tokenOverlapSeconds: 6,
    })
    const opts = options(
      sim,
      [app(appid, { invalidateCooldownSeconds: 0, refreshLeadSeconds: 12 })],
      redisStore([redis.url]),
      { tuning: { wechatOverlapSeconds: 6 } }
    )
    const doomed = await Replica.start(opts)
    replicas = [doomed]
    const survivor = createEngine(opts)
    engines = [survivor]
    await survivor.start()
    const first = await survivor.getToken(appid)
    // Mid-life, an admin refresh on the doomed replica: WeChat issues the token, then the replica
    // dies before it hears the answer (before it can write the record).
    await sim.admin.addFault({ endpoint: '/cgi-bin/token', holdAfterMs: 3000 })
    const refreshes: EngineEvents['refresh'][] = []
    survivor.on('refresh', (e) => refreshes.push(e))
    void doomed.call<ServedToken>('refresh', { appid }).catch(() => undefined)
    await expect
      .poll(async () => (await sim.admin.tokens(appid, 'classic')).all.length, { interval: 10 })
      .toBe(2)
    await doomed.process.stop('SIGKILL')

    // From here on, nobody who asks the survivor may be told to keep the old token longer than
    // WeChat keeps it (6 s after the orphan was issued).
    const reads = await readFor([survivor], appid, 4000)
    expect(reads[0]!.token).toBe(first.accessToken)
    expect(await heldRetired(sim, appid, 'classic', reads)).toEqual([])
    expect(refreshes.some((e) => e.reason === 'recovery' && e.result === 'success')).toBe(true)
    const last = reads.at(-1)!
    expect(last.token).not.toBe(first.accessToken)
    expect((await sim.admin.checkToken(last.token)).valid).toBe(true)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(3)
  })
})
