import { freePort } from '@wxbroker/testkit'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { afterEach, describe, expect, it } from 'vitest'
import {
  createEngine,
  EngineError,
  type EngineEvents,
  type TokenEngine,
} from '../../src/engine/index.js'
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
} from './fixtures.js'
import { ManualClock } from './manual-clock.js'

describe('WeChat faults (guarantee 6: never retried in a loop; transient ones back off)', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  let engine: TokenEngine | undefined
  afterEach(async () => {
    await engine?.stop()
    engine = undefined
    await sim.admin.clearFaults()
  })

  async function startEngine(appid: string, extra: Parameters<typeof options>[3] = {}) {
    engine = createEngine(options(sim, [app(appid)], redisStore([redis.url]), extra))
    const refreshes: EngineEvents['refresh'][] = []
    engine.on('refresh', (e) => refreshes.push(e))
    await engine.start()
    return { engine, refreshes }
  }

  it('-1 three times, then success: refreshed after backing off', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    await sim.admin.addFault({ endpoint: '/cgi-bin/token', type: 'errcode', errcode: -1, times: 3 })
    const started = performance.now()
    const { engine, refreshes } = await startEngine(appid)
    const served = await engine.getToken(appid)
    // Backoff with equal jitter over 40, 80, 160 ms ceilings: at least half of each.
    expect(performance.now() - started).toBeGreaterThanOrEqual(140)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(4)
    expect((await sim.admin.checkToken(served.accessToken)).valid).toBe(true)
    expect(refreshes.map((r) => r.result)).toEqual(['success'])
  })

  it('40125 (bad secret): one attempt, a failing state with a back-off, the error kept for operators', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: 'a-different-secret' })
    const clock = new ManualClock(Date.now())
    const { engine, refreshes } = await startEngine(appid, { clock })
    const error = await engine.getToken(appid).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(EngineError)
    expect(error).toMatchObject({ code: 'wechat_error', wechat: { errcode: 40125 } })
    expect(JSON.stringify(error)).not.toContain(SECRET)
    expect((error as Error).message).not.toContain(SECRET)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(1)
    const status = engine.status()[0]!
    expect(status).toMatchObject({ state: 'failing', lastError: { errcode: 40125 } })
    expect(status.lastError?.rid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/)
    expect(status.nextAttemptAt).toBe(clock.now() + 1000)

    // Readers during the back-off do not reach WeChat.
    await Promise.all(
      Array.from({ length: 50 }, () => engine.getToken(appid).catch(() => undefined))
    )
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(1)
    // After the back-off: one more attempt, then a doubled back-off.
    clock.advance(1000)
    await expect.poll(() => calls(sim, '/cgi-bin/token', appid)).toBe(2)
    await expect.poll(() => engine.status()[0]!.nextAttemptAt).toBe(clock.now() + 2000)
    expect(refreshes.every((r) => r.result === 'wechat_error')).toBe(true)
  })

  // Errors that retrying cannot fix, besides 40125 above: WeChat does not know the appid (40013),
  // the caller's IP is not on the allow-list (40164), the secret is frozen (40243), the IP awaits
  // confirmation (89503). The first two as the simulator answers them, the others injected.
  it.each([
    { errcode: 40013, arrange: async (_appid: string) => undefined },
    {
      errcode: 40164,
      arrange: (appid: string) =>
        sim.admin.registerApp({ appid, secret: SECRET, ipAllowList: ['203.0.113.7'] }),
    },
    {
      errcode: 40243,
      arrange: async (appid: string) => {
        await sim.admin.registerApp({ appid, secret: SECRET })
        await sim.admin.addFault({ endpoint: '/cgi-bin/token', errcode: 40243, times: -1 })
      },
    },
    {
      errcode: 89503,
      arrange: async (appid: string) => {
        await sim.admin.registerApp({ appid, secret: SECRET })
        await sim.admin.addFault({ endpoint: '/cgi-bin/token', errcode: 89503, times: -1 })
      },
    },
  ])(
    '$errcode: one attempt per refresh, then the failure back-off (doubled), never a retry loop',
    async ({ errcode, arrange }) => {
      const appid = newAppid()
      await arrange(appid)
      const clock = new ManualClock(Date.now())
      const { engine, refreshes } = await startEngine(appid, { clock })
      const error = await engine.getToken(appid).catch((e: unknown) => e)
      expect(error).toMatchObject({ code: 'wechat_error', wechat: { errcode } })
      expect(await calls(sim, '/cgi-bin/token', appid)).toBe(1)
      const status = engine.status()[0]!
      expect(status).toMatchObject({ state: 'failing', lastError: { errcode } })
      // FAST.failureBackoffMs after the first failure (docs/engine.md: the back-off table).
      expect(status.nextAttemptAt).toBe(clock.now() + 1000)

      // Readers, and time up to the end of the back-off, do not reach WeChat.
      await Promise.all(
        Array.from({ length: 20 }, () => engine.getToken(appid).catch(() => undefined))
      )
      clock.advance(999)
      await sleep(100)
      expect(await calls(sim, '/cgi-bin/token', appid)).toBe(1)
      // Once it has passed: one more attempt, and the next back-off is twice as long.
      clock.advance(1)
      await expect.poll(() => calls(sim, '/cgi-bin/token', appid)).toBe(2)
      await expect.poll(() => engine.status()[0]!.nextAttemptAt).toBe(clock.now() + 2000)
      await sleep(100)
      expect(await calls(sim, '/cgi-bin/token', appid)).toBe(2)
      expect(refreshes.map((r) => [r.result, r.error?.errcode])).toEqual([
        ['wechat_error', errcode],
        ['wechat_error', errcode],
      ])
    }
  )

  it('45009 (daily quota at WeChat): stops until the next quota day', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    await sim.admin.addFault({
      endpoint: '/cgi-bin/token',
      type: 'errcode',
      errcode: 45009,
      times: -1,
    })
    const { engine } = await startEngine(appid)
    const error = await engine.getToken(appid).catch((e: unknown) => e)
    expect(error).toMatchObject({ code: 'quota_exhausted', wechat: { errcode: 45009 } })
    await Promise.all(
      Array.from({ length: 20 }, () => engine.getToken(appid).catch(() => undefined))
    )
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(1)
    const status = engine.status()[0]!
    expect(status.state).toBe('quota_exhausted')
    expect(new Date(status.nextAttemptAt!).toISOString()).toMatch(/T16:00:00\.000Z$/)
  })

  it('primary base URL refusing connections: the fallback URL is used', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    const closedPort = await freePort()
    const wechatRequests: EngineEvents['wechatRequest'][] = []
    engine = createEngine({
      ...options(sim, [app(appid)], redisStore([redis.url])),
      wechat: {
        baseUrl: `http://127.0.0.1:${closedPort}`,
        fallbackBaseUrls: [sim.url],
        timeoutMs: 2000,
      },
    })
    engine.on('wechatRequest', (e) => wechatRequests.push(e))
    await engine.start()
    const served = await engine.getToken(appid)
    expect((await sim.admin.checkToken(served.accessToken)).valid).toBe(true)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(1)
    expect(wechatRequests.map((e) => e.errcode)).toEqual(['network', '0'])
  })
})

describe('shutdown during a slow WeChat call', () => {
  it('stop() aborts the call after the drain window instead of waiting for its timeout and retries', async () => {
    const sim = await startSimulator()
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    await sim.admin.addFault({ endpoint: '/cgi-bin/token', type: 'latency', ms: 20_000, times: -1 })
    const engine = createEngine({
      ...options(sim, [app(appid)], { kind: 'memory' }),
      wechat: { baseUrl: sim.url, fallbackBaseUrls: [], timeoutMs: 15_000 },
    })
    // The quota reservation comes right before the WeChat call.
    const onTheWire = new Promise((resolve) => engine.on('quota', resolve))
    await engine.start()
    const reader = engine.getToken(appid).catch((e: unknown) => e)
    await onTheWire
    const started = performance.now()
    await engine.stop()
    const took = performance.now() - started
    // The drain window is 3 s; without the abort, stop would wait for the 15 s timeout.
    expect(took).toBeGreaterThan(2_500)
    expect(took).toBeLessThan(5_000)
    expect(await reader).toBeInstanceOf(EngineError)
    await sim.close()
  }, 20_000)
})
