import { describe, expect, it } from 'vitest'
import {
  APPID,
  SECRET,
  accessToken,
  expectWxError,
  signature,
  useSimulator,
  wxGet,
} from './support.js'

const ctx = useSimulator()

function login(code: string, extra: Record<string, string> = {}, appid = APPID, secret = SECRET) {
  return wxGet(ctx.sim, '/sns/jscode2session', {
    appid,
    secret,
    js_code: code,
    grant_type: 'authorization_code',
    ...extra,
  })
}

describe('/sns/jscode2session', () => {
  it('a registered code logs in once (no errcode in the body), then 40163; unknown → 40029', async () => {
    await ctx.sim.admin.registerLoginCode({
      appid: APPID,
      code: 'c1',
      openid: 'o1',
      sessionKey: 'k1==',
    })
    const res = await login('c1')
    expect(res.body).toEqual({ openid: 'o1', session_key: 'k1==' })
    expectWxError(await login('c1'), 40163)
    expectWxError(await login('never-registered'), 40029)
    // Codes belong to one app.
    await ctx.sim.admin.registerApp({ appid: 'wxother', secret: 's2' })
    await ctx.sim.admin.registerLoginCode({ appid: 'wxother', code: 'c2', openid: 'o2' })
    expectWxError(await login('c2'), 40029)
  })

  it('codes expire 300 s after registration on the sim clock (40029); ttlSeconds sets another life, null none', async () => {
    const { admin } = ctx.sim
    await admin.registerLoginCode({ appid: APPID, code: 'late', openid: 'o1' })
    await admin.registerLoginCode({ appid: APPID, code: 'edge', openid: 'o2' })
    await admin.registerLoginCode({ appid: APPID, code: 'short', openid: 'o3', ttlSeconds: 10 })
    await admin.registerLoginCode({ appid: APPID, code: 'forever', openid: 'o4', ttlSeconds: null })
    await admin.advanceClock(10_000)
    expectWxError(await login('short'), 40029)
    await admin.advanceClock(285_000) // 295 s: the sim clock also runs in real time
    expect((await login('edge')).body.openid).toBe('o2')
    await admin.advanceClock(5_000)
    expectWxError(await login('late'), 40029)
    await admin.advanceClock(86_400_000)
    expect((await login('forever')).body.openid).toBe('o4')
  })

  it('issues a fresh random session_key when none is given, which becomes the user current one', async () => {
    await ctx.sim.admin.registerLoginCode({ appid: APPID, code: 'a', openid: 'o1' })
    await ctx.sim.admin.registerLoginCode({ appid: APPID, code: 'b', openid: 'o1' })
    const first = (await login('a')).body.session_key as string
    const second = (await login('b')).body.session_key as string
    expect(Buffer.from(first, 'base64')).toHaveLength(16)
    expect(second).not.toBe(first)
    expect(await ctx.sim.admin.getUser(APPID, 'o1')).toEqual({
      appid: APPID,
      openid: 'o1',
      unionid: null,
      sessionKey: second,
    })
    expect(await ctx.sim.admin.getUser(APPID, 'nobody')).toBeNull()
  })

  it('returns unionid only for apps bound to an open platform', async () => {
    await ctx.sim.admin.registerLoginCode({
      appid: APPID,
      code: 'u1',
      openid: 'o1',
      unionid: 'un1',
    })
    expect((await login('u1')).body).not.toHaveProperty('unionid')
    await ctx.sim.admin.registerApp({ appid: 'wxbound', secret: 's', unionBound: true })
    await ctx.sim.admin.registerLoginCode({
      appid: 'wxbound',
      code: 'u2',
      openid: 'o1',
      unionid: 'un1',
    })
    await ctx.sim.admin.registerLoginCode({ appid: 'wxbound', code: 'u3', openid: 'o3' })
    expect((await login('u2', {}, 'wxbound', 's')).body).toMatchObject({
      openid: 'o1',
      unionid: 'un1',
    })
    expect((await login('u3', {}, 'wxbound', 's')).body.unionid).toEqual(expect.any(String))
  })

  it('blocked codes → 40226; the per-user rate per minute → 45011', async () => {
    const { admin } = ctx.sim
    await admin.registerLoginCode({ appid: APPID, code: 'x', openid: 'o1', blocked: true })
    expectWxError(await login('x'), 40226)
    await admin.registerApp({ appid: 'wxr', secret: 's', loginRatePerMinute: 2 })
    await admin.setClock(Date.UTC(2030, 0, 1, 0, 0, 0))
    for (const code of ['r1', 'r2', 'r3', 'r4', 'other'])
      await admin.registerLoginCode({ appid: 'wxr', code, openid: code === 'other' ? 'o2' : 'o1' })
    expect((await login('r1', {}, 'wxr', 's')).body.openid).toBe('o1')
    expect((await login('r2', {}, 'wxr', 's')).body.openid).toBe('o1')
    expectWxError(await login('r3', {}, 'wxr', 's'), 45011)
    expect((await login('other', {}, 'wxr', 's')).body.openid).toBe('o2') // per user
    await admin.advanceClock(60_000)
    expect((await login('r3', {}, 'wxr', 's')).body.openid).toBe('o1') // not spent by the refusal
  })

  it('validates appid, secret, grant_type and js_code', async () => {
    expectWxError(await login('c', { grant_type: 'client_credential' }), 40002)
    expectWxError(await login('c', {}, 'wxnope'), 40013)
    expectWxError(await login('c', {}, APPID, 'bad'), 40125)
    expectWxError(await login(''), 41008)
  })
})

describe('/wxa/checksession and /wxa/resetusersessionkey', () => {
  const KEY = 'tiihtNczf5v6AKRyjwEUhQ=='

  it('checks the lower-hex HMAC-SHA256 of "" keyed by the session_key string', async () => {
    // Published vector (reference §4.2): key tiihtNczf5v6AKRyjwEUhQ==, message "".
    expect(signature(KEY)).toBe('7154f9f8b4b76b92f541cbf0e37d48840fa06e5e42da92a6f80168a1516a4735')
    await ctx.sim.admin.registerUser({ appid: APPID, openid: 'o1', sessionKey: KEY })
    const token = await accessToken(ctx.sim)
    const q = { access_token: token, openid: 'o1', sig_method: 'hmac_sha256' }
    const good = await wxGet(ctx.sim, '/wxa/checksession', { ...q, signature: signature(KEY) })
    expect(good.body).toEqual({ errcode: 0, errmsg: 'ok' })
    expectWxError(
      await wxGet(ctx.sim, '/wxa/checksession', { ...q, signature: signature('x') }),
      87009
    )
    expectWxError(
      await wxGet(ctx.sim, '/wxa/checksession', {
        ...q,
        sig_method: 'md5',
        signature: signature(KEY),
      }),
      87008
    )
  })

  it('reset returns a new session_key; the old one stops working', async () => {
    await ctx.sim.admin.registerUser({ appid: APPID, openid: 'o1', sessionKey: KEY })
    const token = await accessToken(ctx.sim)
    const q = { access_token: token, openid: 'o1', sig_method: 'hmac_sha256' }
    const res = await wxGet(ctx.sim, '/wxa/resetusersessionkey', {
      ...q,
      signature: signature(KEY),
    })
    expect(res.body).toMatchObject({ errcode: 0, errmsg: 'ok', openid: 'o1' })
    const fresh = res.body.session_key as string
    expect(fresh).not.toBe(KEY)
    expectWxError(
      await wxGet(ctx.sim, '/wxa/checksession', { ...q, signature: signature(KEY) }),
      87009
    )
    const ok = await wxGet(ctx.sim, '/wxa/checksession', { ...q, signature: signature(fresh) })
    expect(ok.body.errcode).toBe(0)
    expect((await ctx.sim.admin.getUser(APPID, 'o1'))?.sessionKey).toBe(fresh)
  })
})
