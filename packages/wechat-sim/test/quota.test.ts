import { describe, expect, it } from 'vitest'
import {
  APPID,
  SECRET,
  classicToken,
  expectWxError,
  stableToken,
  useSimulator,
  wxPost,
} from './support.js'

const ctx = useSimulator()

async function quota(token: string, path: string) {
  return wxPost(ctx.sim, '/cgi-bin/openapi/quota/get', { cgi_path: path }, { access_token: token })
}

describe('quota APIs', () => {
  it('quota/get reports real counters for the token APIs; unknown path → 76021', async () => {
    await ctx.sim.admin.registerApp({ appid: APPID, secret: SECRET, dailyTokenQuota: 10 })
    await classicToken(ctx.sim)
    await stableToken(ctx.sim)
    const token = (await classicToken(ctx.sim)).body.access_token as string
    expect((await quota(token, '/cgi-bin/token')).body).toEqual({
      errcode: 0,
      errmsg: 'ok',
      quota: { daily_limit: 10, used: 2, remain: 8 },
    })
    expect((await quota(token, '/cgi-bin/stable_token')).body.quota).toEqual({
      daily_limit: 10,
      used: 1,
      remain: 9,
    })
    expect((await quota(token, '/wxa/msg_sec_check')).body.quota).toEqual({
      daily_limit: 2_000_000,
      used: 0,
      remain: 2_000_000,
    })
    expectWxError(await quota(token, '/cgi-bin/not-an-api'), 76021)
    expectWxError(await quota(token, '/sns/jscode2session'), 76022)
  })

  it('clear_quota (token) resets the app counters; appid must be the token app', async () => {
    await ctx.sim.admin.registerApp({ appid: APPID, secret: SECRET, dailyTokenQuota: 2 })
    await classicToken(ctx.sim)
    const token = (await classicToken(ctx.sim)).body.access_token as string
    expectWxError(await classicToken(ctx.sim), 45009)
    expectWxError(
      await wxPost(ctx.sim, '/cgi-bin/clear_quota', { appid: 'wxother' }, { access_token: token }),
      40013
    )
    const cleared = await wxPost(
      ctx.sim,
      '/cgi-bin/clear_quota',
      { appid: APPID },
      { access_token: token }
    )
    expect(cleared.body).toEqual({ errcode: 0, errmsg: 'ok' })
    expect((await quota(token, '/cgi-bin/token')).body.quota).toMatchObject({ used: 0 })
    expect((await classicToken(ctx.sim)).body.access_token).toBeDefined()
  })

  it('clear_quota/v2 takes appid+appsecret in the query or the body, without a token; also restores force refreshes', async () => {
    const { admin } = ctx.sim
    await admin.registerApp({ appid: APPID, secret: SECRET, forceRefreshDailyLimit: 1 })
    await stableToken(ctx.sim, true)
    await admin.advanceClock(31_000)
    expectWxError(await stableToken(ctx.sim, true), 45009)
    const viaQuery = await wxPost(ctx.sim, '/cgi-bin/clear_quota/v2', '', {
      appid: APPID,
      appsecret: SECRET,
    })
    expect(viaQuery.body).toEqual({ errcode: 0, errmsg: 'ok' })
    expect((await stableToken(ctx.sim, true)).body.access_token).toBeDefined()
    const viaBody = await wxPost(ctx.sim, '/cgi-bin/clear_quota/v2', {
      appid: APPID,
      appsecret: SECRET,
    })
    expect(viaBody.body.errcode).toBe(0)
    expectWxError(await wxPost(ctx.sim, '/cgi-bin/clear_quota/v2', { appsecret: SECRET }), 41002)
    expectWxError(await wxPost(ctx.sim, '/cgi-bin/clear_quota/v2', { appid: APPID }), 41004)
    expectWxError(
      await wxPost(ctx.sim, '/cgi-bin/clear_quota/v2', { appid: 'wxnope', appsecret: 'x' }),
      40013
    )
  })

  it('10 clears a month shared by both APIs, then 48006; the next month allows more', async () => {
    const { admin } = ctx.sim
    await admin.setClock(Date.UTC(2031, 0, 10))
    const token = (await classicToken(ctx.sim)).body.access_token as string
    for (let i = 0; i < 5; i++) {
      expect(
        (await wxPost(ctx.sim, '/cgi-bin/clear_quota', { appid: APPID }, { access_token: token }))
          .body.errcode
      ).toBe(0)
      expect(
        (await wxPost(ctx.sim, '/cgi-bin/clear_quota/v2', '', { appid: APPID, appsecret: SECRET }))
          .body.errcode
      ).toBe(0)
    }
    expectWxError(
      await wxPost(ctx.sim, '/cgi-bin/clear_quota/v2', '', { appid: APPID, appsecret: SECRET }),
      48006
    )
    expectWxError(
      await wxPost(ctx.sim, '/cgi-bin/clear_quota', { appid: APPID }, { access_token: token }),
      48006
    )
    await admin.setClock(Date.UTC(2031, 1, 1))
    expect(
      (await wxPost(ctx.sim, '/cgi-bin/clear_quota/v2', '', { appid: APPID, appsecret: SECRET }))
        .body.errcode
    ).toBe(0)
  })
})
