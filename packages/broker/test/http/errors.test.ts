import { HTTPException } from 'hono/http-exception'
import { describe, expect, it } from 'vitest'
import { EngineError, type EngineErrorCode } from '../../src/engine/types.js'
import { fromEngineError, fromLoginError, toApiError } from '../../src/http/errors.js'

// Every engine error code and WeChat login errcode has its documented status (README "Errors").

describe('error mapping', () => {
  it.each<[EngineErrorCode, number]>([
    ['unknown_app', 404],
    ['quota_exhausted', 429],
    ['cooldown', 429],
    ['token_unavailable', 503],
    ['wechat_error', 502],
    ['store_unavailable', 503],
  ])('engine %s → %i, carrying Retry-After', (code, status) => {
    const e = fromEngineError(new EngineError(code, 'm', { retryAfterSeconds: 7 }))
    expect(e.status).toBe(status)
    expect(e.code).toBe(code)
    expect(e.opts.retryAfterSeconds).toBe(7)
  })

  it.each([
    [40029, 400, 'invalid_code'],
    [40163, 409, 'code_used'],
    [40226, 403, 'code_blocked'],
    [45011, 429, 'rate_limited'],
    [-1, 502, 'wechat_error'],
    [40125, 502, 'wechat_error'],
  ])('login errcode %i → %i %s, with the WeChat details', (errcode, status, code) => {
    const wechat = { errcode, errmsg: `e rid: 1`, rid: '1' }
    const e = fromLoginError(new EngineError('wechat_error', 'm', { wechat }))
    expect([e.status, e.code]).toEqual([status, code])
    expect(e.opts.wechat).toEqual(wechat)
  })

  it('login failures that are not WeChat errors map like any engine error', () => {
    expect(fromLoginError(new EngineError('unknown_app', 'm')).status).toBe(404)
  })

  it('hono exceptions and unknown errors', () => {
    expect(toApiError(new HTTPException(413)).code).toBe('payload_too_large')
    expect(toApiError(new HTTPException(400)).code).toBe('invalid_json')
    expect(toApiError(new HTTPException(415)).status).toBe(400)
    const internal = toApiError(new Error('secret=abc leaked'))
    expect([internal.status, internal.code, internal.message]).toEqual([
      500,
      'internal',
      'internal error',
    ])
  })
})
