import { describe, expect, it } from 'vitest'
import { APPID, RID, accessToken, expectWxError, useSimulator, wxPost } from './support.js'

const ctx = useSimulator()

async function post(path: string, body: unknown) {
  return wxPost(ctx.sim, path, body, { access_token: await accessToken(ctx.sim) })
}

describe('links', () => {
  it('generatescheme → openlink; path, query, env_version and expiry are validated', async () => {
    const nowS = Math.floor((await ctx.sim.admin.now()) / 1000)
    const res = await post('/wxa/generatescheme', {
      jump_wxa: { path: 'pages/index/index', query: 'a=1&b=2', env_version: 'release' },
      expire_type: 0,
      expire_time: nowS + 3600,
    })
    expect(res.body).toMatchObject({ errcode: 0, errmsg: 'ok' })
    expect(res.body.openlink).toMatch(/^weixin:\/\/dl\/business\/\?t=\S+$/)
    expectWxError(await post('/wxa/generatescheme', { jump_wxa: { path: '/bad path' } }), 40165)
    expectWxError(await post('/wxa/generatescheme', { jump_wxa: { query: 'a b' } }), 40212)
    expectWxError(await post('/wxa/generatescheme', { jump_wxa: { env_version: 'beta' } }), 85402)
    expectWxError(
      await post('/wxa/generatescheme', { expire_type: 0, expire_time: nowS + 30 }),
      85401
    )
    expectWxError(
      await post('/wxa/generatescheme', { expire_type: 0, expire_time: nowS + 31 * 86400 }),
      85401
    )
    expectWxError(await post('/wxa/generatescheme', { expire_type: 1, expire_interval: 31 }), 85401)
    expect(
      (await post('/wxa/generatescheme', { expire_type: 1, expire_interval: 30 })).body.errcode
    ).toBe(0)
  })

  it('generate_urllink → url_link with the same rules', async () => {
    const res = await post('/wxa/generate_urllink', {
      path: 'pages/a',
      query: 'x=1',
      expire_type: 1,
      expire_interval: 7,
    })
    expect(res.body.url_link).toMatch(/^https:\/\/wxaurl\.cn\/\S+$/)
    expectWxError(
      await post('/wxa/generate_urllink', { expire_type: 1, expire_interval: 0 }),
      85401
    )
    expectWxError(await post('/wxa/generate_urllink', { path: 'pages/a?x=1' }), 40165)
    expectWxError(await post('/wxa/generate_urllink', { cloud_base: { env: 'e' } }), 85088)
  })

  it('genwxashortlink → link; 40066 bad page_url; 40225 bad title', async () => {
    const res = await post('/wxa/genwxashortlink', {
      page_url: 'pages/index/index?x=1',
      page_title: 'Hi',
      is_permanent: true,
    })
    expect(res.body.link).toMatch(new RegExp(`^#小程序://${APPID}/\\S+$`))
    expectWxError(await post('/wxa/genwxashortlink', {}), 40066)
    expectWxError(
      await post('/wxa/genwxashortlink', { page_url: `pages/${'a'.repeat(1100)}` }),
      40066
    )
    expectWxError(await post('/wxa/genwxashortlink', { page_url: 'pages/a', page_title: 5 }), 40225)
  })
})

describe('POST /wxa/msg_sec_check (v2)', () => {
  const base = { version: 2, scene: 2, openid: 'o1', content: 'hello there' }

  it('passes clean content with label 100, detail[] and a trace_id', async () => {
    await ctx.sim.admin.registerUser({ appid: APPID, openid: 'o1' })
    const res = await post('/wxa/msg_sec_check', base)
    expect(res.body).toMatchObject({
      errcode: 0,
      errmsg: 'ok',
      result: { suggest: 'pass', label: 100 },
    })
    expect(res.body.detail).toEqual(
      expect.arrayContaining([expect.objectContaining({ strategy: 'content_model', errcode: 0 })])
    )
    expect(` rid: ${res.body.trace_id as string}`).toMatch(RID)
  })

  it('configured risky keywords → risky with the configured label (default 20006), or review', async () => {
    const { admin } = ctx.sim
    await admin.registerUser({ appid: APPID, openid: 'o1' })
    await admin.setRiskyKeywords({ keywords: ['casino'] })
    const risky = await post('/wxa/msg_sec_check', { ...base, content: 'visit my casino today' })
    expect(risky.body.result).toEqual({ suggest: 'risky', label: 20006 })
    expect(risky.body.detail).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ strategy: 'keyword', keyword: 'casino', label: 20006 }),
      ])
    )
    await admin.setRiskyKeywords({ keywords: ['spam'], label: 10001, suggest: 'review' })
    expect(
      (await post('/wxa/msg_sec_check', { ...base, title: 'spam title' })).body.result
    ).toEqual({ suggest: 'review', label: 10001 })
    expect(
      (await post('/wxa/msg_sec_check', { ...base, content: 'casino' })).body.result
    ).toMatchObject({ suggest: 'pass' })
  })

  it('validates version, scene (40129), openid (40003) and content length', async () => {
    await ctx.sim.admin.registerUser({ appid: APPID, openid: 'o1' })
    expectWxError(await post('/wxa/msg_sec_check', { ...base, version: 1 }), 40097)
    expectWxError(await post('/wxa/msg_sec_check', { ...base, scene: 5 }), 40129)
    expectWxError(await post('/wxa/msg_sec_check', { ...base, scene: '1' }), 40129)
    expectWxError(await post('/wxa/msg_sec_check', { ...base, openid: 'stranger' }), 40003)
    expectWxError(await post('/wxa/msg_sec_check', { ...base, content: '字'.repeat(2501) }), 40097)
    expect(
      (await post('/wxa/msg_sec_check', { ...base, content: '字'.repeat(2500) })).body.errcode
    ).toBe(0)
  })
})
