import jpeg from 'jpeg-js'
import { describe, expect, it } from 'vitest'
import { APPID, accessToken, expectWxError, useSimulator, wxPost } from './support.js'

const ctx = useSimulator()

async function postRaw(path: string, body: unknown, token: string): Promise<Response> {
  return fetch(`${ctx.sim.url}${path}?access_token=${token}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
}

async function expectJpeg(res: Response): Promise<void> {
  expect(res.status).toBe(200)
  expect(res.headers.get('content-type')).toBe('image/jpeg')
  const bytes = new Uint8Array(await res.arrayBuffer())
  expect([bytes[0], bytes[1]]).toEqual([0xff, 0xd8]) // SOI
  expect([bytes.at(-2), bytes.at(-1)]).toEqual([0xff, 0xd9]) // EOI
  const decoded = jpeg.decode(bytes, { useTArray: true })
  expect(decoded.width).toBeGreaterThan(0)
  expect(decoded.height).toBeGreaterThan(0)
}

describe('Mini Program code images', () => {
  it('getwxacodeunlimit returns a decodable JPEG', async () => {
    const token = await accessToken(ctx.sim)
    await expectJpeg(
      await postRaw(
        '/wxa/getwxacodeunlimit',
        { scene: "a=1&b=2!#$'()*+,/:;=?@-._~", page: 'pages/index/index', width: 430 },
        token
      )
    )
  })

  it('getwxacodeunlimit validation: 40129 bad scene chars, 40169 empty/long scene or non-JSON, 41030 page', async () => {
    const token = await accessToken(ctx.sim)
    const post = (body: unknown) =>
      wxPost(ctx.sim, '/wxa/getwxacodeunlimit', body, { access_token: token })
    expectWxError(await post({ scene: 'has space' }), 40129)
    expectWxError(await post({ scene: '中文' }), 40129)
    expectWxError(await post({ scene: '' }), 40169)
    expectWxError(await post({ page: 'pages/index/index' }), 40169)
    expectWxError(await post({ scene: 'x'.repeat(33) }), 40169)
    expectWxError(await post('scene=abc'), 40169)
    expectWxError(await post({ scene: 'a', page: '/pages/index/index' }), 41030)
    expectWxError(await post({ scene: 'a', page: 'pages/index?x=1' }), 41030)
    expectWxError(await post({ scene: 'a', width: 100 }), 40097)
    expectWxError(await post({ scene: 'a', scancode_time: 1 }), 85096)
    expectWxError(await wxPost(ctx.sim, '/wxa/getwxacodeunlimit', { scene: 'a' }), 41001)
  })

  it('getwxacode and createwxaqrcode: JPEG; 40159 path length; a shared lifetime cap → 45029', async () => {
    await ctx.sim.admin.registerApp({
      appid: APPID,
      secret: 'test-secret-0123456789abcdef',
      qrcodeLifetimeLimit: 2,
    })
    const token = await accessToken(ctx.sim)
    await expectJpeg(await postRaw('/wxa/getwxacode', { path: 'pages/index/index?from=qr' }, token))
    expectWxError(
      await wxPost(ctx.sim, '/wxa/getwxacode', { path: 'p'.repeat(1025) }, { access_token: token }),
      40159
    )
    expectWxError(await wxPost(ctx.sim, '/wxa/getwxacode', {}, { access_token: token }), 40159)
    expectWxError(
      await wxPost(
        ctx.sim,
        '/cgi-bin/wxaapp/createwxaqrcode',
        { path: 'p'.repeat(129) },
        { access_token: token }
      ),
      40159
    )
    await expectJpeg(
      await postRaw('/cgi-bin/wxaapp/createwxaqrcode', { path: 'pages/a', width: 430 }, token)
    )
    expectWxError(
      await wxPost(ctx.sim, '/wxa/getwxacode', { path: 'pages/b' }, { access_token: token }),
      45029
    )
    expectWxError(
      await wxPost(
        ctx.sim,
        '/cgi-bin/wxaapp/createwxaqrcode',
        { path: 'pages/b' },
        { access_token: token }
      ),
      45029
    )
    // The unlimited endpoint is not capped.
    await expectJpeg(await postRaw('/wxa/getwxacodeunlimit', { scene: 'x' }, token))
  })
})
