import { describe, expect, it } from 'vitest'
import {
  APPID,
  SECRET,
  classicToken,
  expectWxError,
  useSimulator,
  wxGet,
  wxPost,
} from './support.js'

const ctx = useSimulator()

describe('GET /cgi-bin/token', () => {
  it('issues a token with the app expires_in and no errcode, as WeChat JSON', async () => {
    const res = await classicToken(ctx.sim)
    expect(res.status).toBe(200)
    expect(res.contentType).toBe('application/json; encoding=utf-8')
    expect(Object.keys(res.body).sort()).toEqual(['access_token', 'expires_in'])
    expect(res.body.expires_in).toBe(7200)
    expect(typeof res.body.access_token).toBe('string')
    expect((res.body.access_token as string).length).toBeGreaterThan(100)

    await ctx.sim.admin.registerApp({ appid: 'wxshort', secret: 's', tokenExpiresIn: 60 })
    const short = await classicToken(ctx.sim, 'wxshort', 's')
    expect(short.body.expires_in).toBe(60)
  })

  it('retires the previous token after the overlap: both work inside it, only the new one after', async () => {
    const { admin } = ctx.sim
    const first = (await classicToken(ctx.sim)).body.access_token as string
    await admin.advanceClock(1000_000)
    const second = (await classicToken(ctx.sim)).body.access_token as string
    expect(second).not.toBe(first)
    await admin.advanceClock(299_000)
    expect(await admin.checkToken(first)).toEqual({
      valid: true,
      errcode: 0,
      appid: APPID,
      kind: 'classic',
    })
    await admin.advanceClock(2000)
    expect(await admin.checkToken(first)).toMatchObject({ valid: false, errcode: 40001 })
    expect((await admin.checkToken(second)).valid).toBe(true)

    const view = await admin.tokens(APPID, 'classic')
    expect(view.current).toBe(second)
    expect(view.all.map((t) => t.token)).toEqual([first, second])
    expect(view.all[0]!.retiredAt).toBe(view.all[1]!.issuedAt + 300_000)
  })

  it('keeps the previous expiry when it comes before the end of the overlap', async () => {
    await ctx.sim.admin.registerApp({
      appid: 'wxo',
      secret: 's',
      tokenExpiresIn: 100,
      tokenOverlapSeconds: 50,
    })
    const first = (await classicToken(ctx.sim, 'wxo', 's')).body.access_token as string
    await ctx.sim.admin.advanceClock(80_000)
    await classicToken(ctx.sim, 'wxo', 's')
    const all = (await ctx.sim.admin.tokens('wxo', 'classic')).all
    expect(all[0]!.retiredAt).toBeUndefined()
    await ctx.sim.admin.advanceClock(21_000)
    // Expired naturally (its own expiry came first): 42001, not 40001.
    expect(await ctx.sim.admin.checkToken(first)).toMatchObject({ valid: false, errcode: 42001 })
  })

  it('enforces the daily quota per Asia/Shanghai day, then 45009; the next Shanghai day resets it', async () => {
    const { admin } = ctx.sim
    await admin.registerApp({ appid: 'wxq', secret: 's', dailyTokenQuota: 3 })
    // 2030-01-01 15:59:00 UTC = 23:59 in Shanghai.
    await admin.setClock(Date.UTC(2030, 0, 1, 15, 59, 0))
    for (let i = 0; i < 3; i++)
      expect((await classicToken(ctx.sim, 'wxq', 's')).body.access_token).toBeDefined()
    expectWxError(await classicToken(ctx.sim, 'wxq', 's'), 45009)
    // Another app has its own quota.
    expect((await classicToken(ctx.sim)).body.access_token).toBeDefined()
    await admin.advanceClock(61_000) // 00:00:01 in Shanghai, still Jan 1 in UTC
    expect((await classicToken(ctx.sim, 'wxq', 's')).body.access_token).toBeDefined()
  })

  it('validates grant_type, appid and secret', async () => {
    const q = { grant_type: 'client_credential', appid: APPID, secret: SECRET }
    expectWxError(await wxGet(ctx.sim, '/cgi-bin/token', { ...q, grant_type: 'password' }), 40002)
    expectWxError(
      await wxGet(ctx.sim, '/cgi-bin/token', { grant_type: q.grant_type, secret: SECRET }),
      41002
    )
    expectWxError(
      await wxGet(ctx.sim, '/cgi-bin/token', { grant_type: q.grant_type, appid: APPID }),
      41004
    )
    expectWxError(await wxGet(ctx.sim, '/cgi-bin/token', { ...q, appid: 'wxunknown' }), 40013)
    const msg = expectWxError(
      await wxGet(ctx.sim, '/cgi-bin/token', { ...q, secret: 'wrong' }),
      40125
    )
    expect(msg).not.toContain('wrong')
  })

  it('rejects callers outside the IP allow-list with 40164 naming the address', async () => {
    const { admin } = ctx.sim
    await admin.registerApp({ appid: 'wxip', secret: 's', ipAllowList: ['10.1.2.3'] })
    const msg = expectWxError(await classicToken(ctx.sim, 'wxip', 's'), 40164)
    expect(msg).toMatch(/^invalid ip 127\.0\.0\.1 ipv6 ::ffff:127\.0\.0\.1, not in whitelist rid: /)
    expectWxError(
      await wxPost(ctx.sim, '/cgi-bin/stable_token', {
        grant_type: 'client_credential',
        appid: 'wxip',
        secret: 's',
      }),
      40164
    )
    await admin.registerApp({ appid: 'wxip', secret: 's', ipAllowList: ['127.0.0.1'] })
    expect((await classicToken(ctx.sim, 'wxip', 's')).body.access_token).toBeDefined()
  })
})
