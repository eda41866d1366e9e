import { Redis } from 'ioredis'
import type { Simulator } from '@wxbroker/wechat-sim'
import { afterEach, describe, expect, it } from 'vitest'
import { createEngine, type ServedToken, type TokenEngine } from '../../src/engine/index.js'
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
  shortLivedApp,
} from './fixtures.js'
import { Replica } from './replica.js'

describe('replica failure during a refresh (guarantees 1 and 5)', () => {
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

  it('the lock holder is SIGKILLed mid-refresh: another replica completes the rotation, readers see no gap', async () => {
    const { appid, opts } = await shortLivedApp(sim, redis.url, {
      lifeSeconds: 8,
      tuning: { lockTtlMs: 800 },
    })
    replicas = await Promise.all([Replica.start(opts), Replica.start(opts)])
    const first = await replicas[0]!.call<ServedToken>('getToken', { appid })
    // Both cold starts settled (a contended one may take the lock after the writer, to read the
    // record): only the scheduled refresh takes it from here on.
    await replicas[1]!.call<ServedToken>('getToken', { appid })
    const acquired = (r: Replica): number => r.count('lockAcquire', (e) => e.result === 'acquired')
    const before = replicas.map(acquired)
    // The next token call hangs long enough to kill whoever makes it.
    await sim.admin.addFault({ endpoint: '/cgi-bin/token', type: 'latency', ms: 3000, times: 1 })
    const holder = await Promise.race(
      replicas.map(async (r, i) => {
        await r.until(
          () => acquired(r) > before[i]!,
          10_000,
          'the scheduled refresh takes the lock'
        )
        return r
      })
    )
    // Killed once its call reached WeChat (the slow answer taken): a busy machine could otherwise
    // kill it first, and the slow answer would fall to the survivor.
    await eventually(
      async () => (await sim.admin.faults()).length === 0,
      "the holder's token call reaches the simulator"
    )
    await holder.process.stop('SIGKILL')
    const survivor = replicas.find((r) => r !== holder)!

    const seen: ServedToken[] = []
    const errors: string[] = []
    const deadline = Date.now() + 6000
    while (Date.now() < deadline && !seen.some((s) => s.generation > first.generation)) {
      await survivor.call<ServedToken>('getToken', { appid }).then(
        (s) => seen.push(s),
        (e: unknown) => errors.push(String(e))
      )
      await sleep(50)
    }
    const events = (): string =>
      JSON.stringify({ holder: holder.events.slice(-20), survivor: survivor.events.slice(-20) })
    expect(errors, events()).toEqual([])
    const newer = seen.find((s) => s.generation > first.generation)
    expect(newer, events()).toBeDefined()
    expect((await sim.admin.checkToken(newer!.accessToken)).valid).toBe(true)
    // One refresh by the survivor: its schedule's, or (when it saw the holder's refresh intent
    // first, or the holder died before its call reached WeChat and the slow answer fell to the
    // survivor) a recovery of that intent. Which one depends on timing, not on the guarantee.
    expect(
      survivor.count(
        'refresh',
        (e) => e.result === 'success' && (e.reason === 'scheduled' || e.reason === 'recovery')
      ),
      events()
    ).toBe(1)
  })

  it('fencing: a refresh whose lease lapsed (process paused) cannot overwrite the newer token', async () => {
    const appid = newAppid()
    await sim.admin.registerApp({ appid, secret: SECRET })
    const store = redisStore([redis.url])
    const opts = options(sim, [app(appid)], store, { tuning: { lockTtlMs: 500 } })
    await sim.admin.addFault({ endpoint: '/cgi-bin/token', type: 'latency', ms: 1500, times: 1 })
    const paused = await Replica.start(opts)
    replicas = [paused]
    // The quota reservation comes right before the WeChat call: pause once the call is on the wire.
    await paused.waitForEvent('quota', () => true)
    await sleep(100)
    paused.process.child.kill('SIGSTOP') // no lease extensions while stopped
    await sleep(800) // the lease lapses

    const engine = createEngine(opts)
    engines = [engine]
    await engine.start()
    const newer = await engine.getToken(appid)
    expect(newer.generation).toBe(1)

    paused.process.child.kill('SIGCONT')
    await paused.waitForEvent('refresh', (e) => e.result === 'lock_lost', 10_000)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(2)

    const direct = new Redis(redis.url)
    const prefix = store.kind === 'redis' ? store.keyPrefix : ''
    const raw = await direct.get(`${prefix}:token:${appid}:classic`)
    const stored = JSON.parse(raw ?? 'null') as { token: string; generation: number } | null
    direct.disconnect()
    expect(stored).toMatchObject({ token: newer.accessToken, generation: 1 })
    await eventually(
      async () =>
        (await paused.call<ServedToken>('getToken', { appid })).accessToken === newer.accessToken,
      'the paused replica adopts the newer token'
    )
  })
})
