import type { Simulator } from '@wxbroker/wechat-sim'
import { afterEach, describe, expect, it } from 'vitest'
import { createEngine, type EngineEvents, type TokenEngine } from '../../src/engine/index.js'
import {
  app,
  calls,
  eventually,
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

/** Someone else with the real secret: a staging fleet, a developer's laptop. */
async function outsideRefresh(sim: Simulator, appid: string): Promise<void> {
  const url = new URL('/cgi-bin/token', sim.url)
  url.search = new URLSearchParams({
    grant_type: 'client_credential',
    appid,
    secret: SECRET,
  }).toString()
  const body = (await (await fetch(url)).json()) as { access_token?: string }
  expect(body.access_token).toEqual(expect.any(String))
}

describe('refreshes by someone else are noticed and healed before callers see errors', () => {
  let redis: TestRedis
  let sim: Simulator
  withSimAndRedis((env) => ({ redis, sim } = env))
  let engines: TokenEngine[] = []
  afterEach(async () => {
    await Promise.all(engines.map((e) => e.stop()))
    engines = []
  })

  /** Two replicas checking every second; tokens live 60 s, a replaced one works 8 s more. */
  async function replicas(appid: string) {
    await sim.admin.registerApp({
      appid,
      secret: SECRET,
      tokenExpiresIn: 60,
      tokenOverlapSeconds: 8,
    })
    const opts = options(
      sim,
      [app(appid, { refreshLeadSeconds: 15, foreignCheckSeconds: 1 })],
      redisStore([redis.url]),
      { tuning: { wechatOverlapSeconds: 8 } }
    )
    engines = [createEngine(opts), createEngine(opts)]
    const found: EngineEvents['foreignRefresh'][] = []
    const refreshes: EngineEvents['refresh'][] = []
    for (const e of engines) {
      e.on('foreignRefresh', (f) => found.push(f))
      e.on('refresh', (r) => refreshes.push(r))
      await e.start()
    }
    return { engines: engines as [TokenEngine, TokenEngine], found, refreshes }
  }

  it('an outside /cgi-bin/token call: WeChat counts a call the broker did not make; the token is replaced within the overlap', async () => {
    const appid = newAppid()
    const { engines: pair, found, refreshes } = await replicas(appid)
    const first = await pair[0].getToken(appid)
    // Let a check set the day's baseline, then someone else refreshes.
    await sleep(1500)
    expect(found).toEqual([])
    await outsideRefresh(sim, appid)
    const outsideAt = Date.now()
    await eventually(() => found.length > 0, 'the foreign refresh is detected', 5000)
    const detectedAt = Date.now()
    expect(found).toEqual([{ appid, kind: 'classic', evidence: 'count_drift' }])
    // The detecting replica announces what it found; the other hears it within moments (pub/sub).
    // From then on no reader is told to keep a token past its retirement, and the broker serves a
    // new token before the old one dies (8 s after the outside call).
    await eventually(
      () =>
        pair.every((e) => {
          const served = e.peekToken(appid)
          return (
            served === undefined ||
            served.accessToken !== first.accessToken ||
            served.expiresAt <= outsideAt + 8000
          )
        }),
      'every replica caps the old token or has replaced it',
      1000
    )
    const reads = await readFor(pair, appid, 3000)
    expect(await heldRetired(sim, appid, 'classic', reads)).toEqual([])
    const replaced = reads.find((r) => r.token !== first.accessToken)
    expect(replaced).toBeDefined()
    expect(replaced!.at - outsideAt).toBeLessThan(8000)
    expect(detectedAt - outsideAt).toBeLessThan(3000)
    expect(refreshes.filter((r) => r.reason === 'foreign' && r.result === 'success')).toHaveLength(
      1
    )
    // One upstream call by the broker for it: the cold start, the outside call, the replacement.
    expect(await calls(sim, '/cgi-bin/token', appid)).toBe(3)
    expect(pair[1].status()[0]!.lastForeignRefresh).toMatchObject({ evidence: 'count_drift' })
  })

  it('a token revoked at WeChat (a leak): the check finds it refused and replaces it', async () => {
    const appid = newAppid()
    const { engines: pair, found } = await replicas(appid)
    const first = await pair[0].getToken(appid)
    await sim.admin.retireToken(appid, 'classic')
    await eventually(() => found.length > 0, 'the refused token is detected', 5000)
    expect(found[0]).toMatchObject({ evidence: 'token_rejected' })
    await eventually(
      async () => (await pair[1].getToken(appid)).accessToken !== first.accessToken,
      'a new token is served'
    )
    const served = await pair[1].getToken(appid)
    expect((await sim.admin.checkToken(served.accessToken)).valid).toBe(true)
  })

  it('no false alarm: scheduled rotations and many checks find nothing foreign', async () => {
    const appid = newAppid()
    // Tokens live 6 s here: several rotations by the broker itself during the checks.
    await sim.admin.registerApp({
      appid,
      secret: SECRET,
      tokenExpiresIn: 6,
      tokenOverlapSeconds: 2,
    })
    const opts = options(
      sim,
      [app(appid, { refreshLeadSeconds: 2, foreignCheckSeconds: 1 })],
      redisStore([redis.url]),
      { tuning: { wechatOverlapSeconds: 2 } }
    )
    engines = [createEngine(opts), createEngine(opts)]
    const found: EngineEvents['foreignRefresh'][] = []
    for (const e of engines) {
      e.on('foreignRefresh', (f) => found.push(f))
      await e.start()
    }
    await engines[0]!.getToken(appid)
    await sleep(9000)
    expect(await calls(sim, '/cgi-bin/token', appid)).toBeGreaterThanOrEqual(3)
    expect(await calls(sim, '/cgi-bin/openapi/quota/get', appid)).toBeGreaterThanOrEqual(5)
    expect(found).toEqual([])
  })
})
