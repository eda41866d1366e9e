import { startRedis, startRedisNodes, type RedisServer, type RedisServers } from '@wxbroker/testkit'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createEngine, EngineError, type TokenEngine } from '../../src/engine/index.js'
import {
  app,
  calls,
  eventually,
  newAppid,
  options,
  redisStore,
  SECRET,
  sleep,
  shortLivedApp,
} from './fixtures.js'
import { ManualClock } from './manual-clock.js'

describe('store outages degrade, never crash (guarantee 7)', () => {
  let sim: Simulator
  let engines: TokenEngine[] = []

  beforeAll(async () => {
    sim = await startSimulator()
  })
  afterEach(async () => {
    await Promise.all(engines.map((e) => e.stop()))
    engines = []
  })
  afterAll(async () => {
    await sim?.close()
  })

  describe('one Redis', () => {
    let redis: RedisServer & { stopAll: () => Promise<void> }
    beforeAll(async () => {
      redis = await startRedis()
    })
    afterAll(async () => {
      await redis?.stopAll()
    })

    it('Redis SIGKILLed and restarted under load: serving continues, ready but degraded while down, no lost or duplicated generations', async () => {
      const { appid, opts } = await shortLivedApp(sim, redis.url, { lifeSeconds: 6 })
      engines = [createEngine(opts), createEngine(opts)]
      await Promise.all(engines.map((e) => e.start()))

      const byGeneration = new Map<number, Set<string>>()
      const errors: string[] = []
      let reading = true
      const readers = engines.map(async (engine) => {
        while (reading) {
          try {
            const served = await engine.getToken(appid)
            const tokens = byGeneration.get(served.generation) ?? new Set()
            tokens.add(served.accessToken)
            byGeneration.set(served.generation, tokens)
          } catch (error) {
            errors.push(String(error))
          }
          await sleep(20)
        }
      })

      await sleep(500)
      expect(engines.every((e) => e.readiness().ready)).toBe(true)
      await redis.kill()
      await eventually(
        () => engines.every((e) => !e.readiness().storeUp),
        'every replica reports the store down'
      )
      // Still ready (each holds a valid token), the outage reported as a degradation (§3.7).
      for (const engine of engines) {
        expect(engine.readiness()).toEqual({
          ready: true,
          storeUp: false,
          reasons: [],
          degradations: [
            { reason: 'store_unreachable', message: 'store unreachable', blocking: false },
          ],
        })
      }
      await sleep(1500) // serving from memory meanwhile
      expect(engines.every((e) => e.readiness().ready)).toBe(true)
      await redis.restart() // empty: the store lost every record
      await eventually(
        () => engines.every((e) => e.readiness().degradations.length === 0),
        'no replica is degraded any more',
        5000
      )
      // Rotations after the restart continue the generation sequence.
      await eventually(
        () => Math.max(...byGeneration.keys()) >= 3,
        'two rotations after the restart',
        12_000
      )
      reading = false
      await Promise.all(readers)

      expect(errors).toEqual([])
      const generations = [...byGeneration.keys()].sort((a, b) => a - b)
      expect(generations).toEqual(Array.from({ length: generations.length }, (_, i) => i + 1))
      for (const tokens of byGeneration.values()) expect(tokens.size).toBe(1)
      expect(await calls(sim, '/cgi-bin/token', appid)).toBeGreaterThanOrEqual(generations.length)
    })

    it('Redis down for good: ready exactly while the held token can be served, then not ready naming the app', async () => {
      await redis.restart()
      const appid = newAppid()
      await sim.admin.registerApp({ appid, secret: SECRET })
      const clock = new ManualClock(Date.now())
      const engine = createEngine(options(sim, [app(appid)], redisStore([redis.url]), { clock }))
      engines = [engine]
      await engine.start()
      const held = await engine.getToken(appid)
      await redis.kill()
      await eventually(() => !engine.readiness().storeUp, 'the replica sees the store down')

      const storeDown = {
        reason: 'store_unreachable',
        message: 'store unreachable',
        blocking: false,
      }
      clock.advance(held.expiresAt - 3000 - clock.now())
      let flippedAt: number | undefined
      while (clock.now() < held.expiresAt + 500) {
        const servable = engine.peekToken(appid) !== undefined
        const r = engine.readiness()
        // Not ready for the token running out, and not a moment before.
        expect(r.ready, `at ${held.expiresAt - clock.now()} ms before expiry`).toBe(servable)
        if (servable) {
          expect(r).toMatchObject({ reasons: [], degradations: [storeDown] })
        } else {
          flippedAt ??= clock.now()
          expect(r).toEqual({
            ready: false,
            storeUp: false,
            reasons: [`${appid}: no valid token`],
            degradations: [
              storeDown,
              { reason: `no_token:${appid}`, message: `${appid}: no valid token`, blocking: true },
            ],
          })
        }
        clock.advance(250)
      }
      expect(flippedAt).toBeGreaterThan(held.expiresAt - 3000)
      expect(flippedAt).toBeLessThanOrEqual(held.expiresAt)
    })
  })

  describe('a quorum of three independent nodes', () => {
    let nodes: RedisServers
    beforeAll(async () => {
      nodes = await startRedisNodes(3)
    })
    afterAll(async () => {
      await nodes?.stopAll()
    })

    it('one node down: still refreshes; two down: no refresh, degraded; back: recovers', async () => {
      const appid = newAppid()
      await sim.admin.registerApp({ appid, secret: SECRET })
      const opts = options(
        sim,
        [app(appid, { invalidateCooldownSeconds: 0 })],
        redisStore(nodes.urls)
      )
      const engine = createEngine(opts)
      engines = [engine]
      await engine.start()
      const first = await engine.getToken(appid)

      await nodes.servers[0]!.kill()
      await eventually(() => engine.readiness().storeUp, 'store up with two of three nodes')
      const second = await engine.refresh(appid)
      expect(second.generation).toBe(first.generation + 1)

      await nodes.servers[1]!.kill()
      await eventually(() => !engine.readiness().storeUp, 'store down with one of three nodes')
      expect(engine.readiness()).toMatchObject({ ready: true, reasons: [] })
      const refused = await engine.refresh(appid).catch((e: unknown) => e)
      expect(refused).toBeInstanceOf(EngineError)
      expect(refused).toMatchObject({ code: 'store_unavailable' })
      expect((await engine.getToken(appid)).accessToken).toBe(second.accessToken)
      const before = await calls(sim, '/cgi-bin/token', appid)

      await nodes.servers[0]!.restart()
      await nodes.servers[1]!.restart()
      await eventually(() => engine.readiness().storeUp, 'store up again')
      expect(engine.readiness().degradations).toEqual([])
      expect(await calls(sim, '/cgi-bin/token', appid)).toBe(before)
      const third = await engine.refresh(appid)
      expect(third.generation).toBe(second.generation + 1)
    })
  })
})
