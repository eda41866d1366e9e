import { describe, expect, it } from 'vitest'
import {
  APPID,
  SECRET,
  classicToken,
  expectAbout,
  expectWxError,
  stableToken,
  useSimulator,
  wxGet,
  wxPost,
} from './support.js'

const ctx = useSimulator()

describe('POST /cgi-bin/stable_token', () => {
  it('normal mode returns the same token with its remaining life while more than the window remains', async () => {
    const first = await stableToken(ctx.sim)
    expect(Object.keys(first.body).sort()).toEqual(['access_token', 'expires_in'])
    expect(first.body.expires_in).toBe(7200)
    await ctx.sim.admin.advanceClock(6_000_000)
    const again = await stableToken(ctx.sim, false)
    expect(again.body.access_token).toBe(first.body.access_token)
    expectAbout(again.body.expires_in, 1200)
    expect((await ctx.sim.admin.tokens(APPID, 'stable')).all).toHaveLength(1)
  })

  it('inside the last window issues a new token; the old one works until its own expiry', async () => {
    const { admin } = ctx.sim
    const first = (await stableToken(ctx.sim)).body.access_token as string
    await admin.advanceClock(7200_000 - 200_000) // 200 s left, inside the 300 s window
    const renewed = await stableToken(ctx.sim)
    expect(renewed.body.access_token).not.toBe(first)
    expect(renewed.body.expires_in).toBe(7200)
    expect((await stableToken(ctx.sim)).body.access_token).toBe(renewed.body.access_token)
    await admin.advanceClock(199_000)
    expect((await admin.checkToken(first)).valid).toBe(true)
    await admin.advanceClock(2000)
    expect(await admin.checkToken(first)).toMatchObject({ valid: false, errcode: 42001 })
  })

  it('force_refresh issues a new token and retires the old at once; a second within 30 s changes nothing', async () => {
    const { admin } = ctx.sim
    const first = (await stableToken(ctx.sim)).body.access_token as string
    await admin.advanceClock(1000)
    const forced = (await stableToken(ctx.sim, true)).body.access_token as string
    expect(forced).not.toBe(first)
    expect(await admin.checkToken(first)).toMatchObject({ valid: false, errcode: 40001 })
    await admin.advanceClock(29_000)
    const early = await stableToken(ctx.sim, true)
    expect(early.body.access_token).toBe(forced)
    expectAbout(early.body.expires_in, 7200 - 29)
    await admin.advanceClock(1000)
    expect((await stableToken(ctx.sim, true)).body.access_token).not.toBe(forced)
  })

  it('allows forceRefreshDailyLimit forces per Shanghai day, then 45009', async () => {
    const { admin } = ctx.sim
    await admin.registerApp({ appid: 'wxf', secret: 's', forceRefreshDailyLimit: 2 })
    await admin.setClock(Date.UTC(2030, 0, 1, 4, 0, 0))
    for (let i = 0; i < 2; i++) {
      expect((await stableToken(ctx.sim, true, 'wxf', 's')).body.access_token).toBeDefined()
      await admin.advanceClock(31_000)
    }
    expectWxError(await stableToken(ctx.sim, true, 'wxf', 's'), 45009)
    // Normal mode still works.
    expect((await stableToken(ctx.sim, false, 'wxf', 's')).body.access_token).toBeDefined()
    await admin.advanceClock(24 * 3600_000)
    expect((await stableToken(ctx.sim, true, 'wxf', 's')).body.access_token).toBeDefined()
  })

  it('is isolated from classic tokens both ways', async () => {
    const { admin } = ctx.sim
    const stable = (await stableToken(ctx.sim)).body.access_token as string
    await classicToken(ctx.sim)
    await classicToken(ctx.sim)
    await admin.advanceClock(400_000)
    expect((await admin.checkToken(stable)).valid).toBe(true)
    const classic = (await classicToken(ctx.sim)).body.access_token as string
    await stableToken(ctx.sim, true)
    expect(await admin.checkToken(classic)).toMatchObject({ valid: true, kind: 'classic' })
    expect((await admin.tokens(APPID, 'stable')).all).toHaveLength(2)
    expect((await admin.tokens(APPID, 'classic')).all).toHaveLength(3)
  })

  it('counts against its own daily quota', async () => {
    await ctx.sim.admin.registerApp({ appid: 'wxsq', secret: 's', dailyTokenQuota: 2 })
    await stableToken(ctx.sim, false, 'wxsq', 's')
    await stableToken(ctx.sim, false, 'wxsq', 's')
    expectWxError(await stableToken(ctx.sim, false, 'wxsq', 's'), 45009)
    expect((await classicToken(ctx.sim, 'wxsq', 's')).body.access_token).toBeDefined()
  })

  it('GET → 43002; validation as for /cgi-bin/token; JSON only', async () => {
    expectWxError(
      await wxGet(ctx.sim, '/cgi-bin/stable_token', {
        grant_type: 'client_credential',
        appid: APPID,
        secret: SECRET,
      }),
      43002
    )
    const body = { grant_type: 'client_credential', appid: APPID, secret: SECRET }
    expectWxError(
      await wxPost(ctx.sim, '/cgi-bin/stable_token', { ...body, grant_type: 'x' }),
      40002
    )
    expectWxError(
      await wxPost(ctx.sim, '/cgi-bin/stable_token', { ...body, appid: undefined }),
      41002
    )
    expectWxError(
      await wxPost(ctx.sim, '/cgi-bin/stable_token', { ...body, secret: undefined }),
      41004
    )
    expectWxError(
      await wxPost(ctx.sim, '/cgi-bin/stable_token', { ...body, appid: 'wxnope' }),
      40013
    )
    expectWxError(await wxPost(ctx.sim, '/cgi-bin/stable_token', { ...body, secret: 'bad' }), 40125)
    expectWxError(
      await wxPost(ctx.sim, '/cgi-bin/stable_token', 'grant_type=client_credential'),
      47001
    )
    expectWxError(await wxPost(ctx.sim, '/cgi-bin/stable_token', ''), 44002)
  })
})
