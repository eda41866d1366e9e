import { describe, expect, it } from 'vitest'
import { TransportError, WeChatApiError } from './errors.js'
import type { HttpResponse } from './http.js'
import { readWeChatImage, readWeChatJson } from './wechat-response.js'

const JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 0, 0xff, 0xd9])
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
const ERROR = '{"errcode":40129,"errmsg":"invalid scene rid: 617682e0-09059ac5-34a8e2ea"}'

function response(body: Uint8Array | string, contentType?: string, status = 200): HttpResponse {
  const headers = new Headers(contentType === undefined ? {} : { 'content-type': contentType })
  return { status, headers, body: typeof body === 'string' ? new TextEncoder().encode(body) : body }
}

function thrown(fn: () => unknown): Error {
  try {
    fn()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a throw')
}

describe('image answers', () => {
  it('returns the bytes with the media type of an image Content-Type', () => {
    const result = readWeChatImage(response(JPEG, 'image/jpeg'), '/wxa/getwxacode', 't')
    expect(result).toEqual({ contentType: 'image/jpeg', data: JPEG })
  })

  it('branches on application/json whatever its parameters', () => {
    const error = thrown(() =>
      readWeChatImage(
        response(ERROR, 'application/json; encoding=utf-8'),
        '/wxa/getwxacodeunlimit',
        't'
      )
    )
    expect(error).toBeInstanceOf(WeChatApiError)
    expect(error).toMatchObject({ errcode: 40129, rid: '617682e0-09059ac5-34a8e2ea' })
  })

  it('sniffs JSON, JPEG and PNG when the Content-Type is missing or vague', () => {
    expect(
      thrown(() => readWeChatImage(response(` ${ERROR}`, 'text/plain'), '/x', 't'))
    ).toBeInstanceOf(WeChatApiError)
    expect(readWeChatImage(response(JPEG), '/x', 't').contentType).toBe('image/jpeg')
    expect(readWeChatImage(response(PNG, 'application/octet-stream'), '/x', 't').contentType).toBe(
      'image/png'
    )
  })

  it('refuses bytes it cannot recognise, and JSON without an error', () => {
    const unknown = thrown(() => readWeChatImage(response('GIF89a', 'text/html'), '/x', 't'))
    expect(unknown).toMatchObject({ name: 'TransportError', kind: 'invalid_response' })
    const ok = thrown(() =>
      readWeChatImage(response('{"errcode":0}', 'application/json'), '/x', 't')
    )
    expect(ok).toMatchObject({ name: 'TransportError', kind: 'invalid_response' })
  })
})

describe('JSON answers', () => {
  it('parses JSON whatever the Content-Type says', () => {
    expect(readWeChatJson(response('{"openlink":"weixin://x"}', 'text/plain'), '/x', 't')).toEqual({
      openlink: 'weixin://x',
    })
  })

  it('treats errcode 0 as success and any other errcode as WeChatApiError', () => {
    expect(readWeChatJson(response('{"errcode":0,"errmsg":"ok"}'), '/x', 't')).toMatchObject({
      errcode: 0,
    })
    const error = thrown(() =>
      readWeChatJson(response('{"errcode":-1,"errmsg":"system error"}'), '/x', 't')
    )
    expect(error).toMatchObject({ errcode: -1, retryable: true, endpoint: '/x', rid: undefined })
  })

  it('removes the token if WeChat ever echoes it in errmsg', () => {
    const error = thrown(() =>
      readWeChatJson(
        response('{"errcode":40001,"errmsg":"bad token TOKEN123 rid: x"}'),
        '/x',
        'TOKEN123'
      )
    )
    expect(error.message).not.toContain('TOKEN123')
    expect((error as WeChatApiError).errmsg).toContain('[access_token]')
  })

  it('maps 5xx, non-JSON and non-object bodies to TransportError', () => {
    expect(
      thrown(() => readWeChatJson(response('Bad Gateway', 'text/html', 502), '/x', 't'))
    ).toMatchObject({
      kind: 'http',
      status: 502,
      retryable: true,
    })
    expect(thrown(() => readWeChatJson(response('<html>'), '/x', 't'))).toMatchObject({
      kind: 'invalid_response',
      retryable: false,
    })
    expect(thrown(() => readWeChatJson(response('[1]'), '/x', 't'))).toBeInstanceOf(TransportError)
    expect(
      thrown(() => readWeChatJson(response('nope', 'text/plain', 404), '/x', 't'))
    ).toMatchObject({
      kind: 'http',
      status: 404,
      retryable: false,
    })
  })
})
