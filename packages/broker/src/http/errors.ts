import { RequestError } from '@hono/node-server'
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import { EngineError, type QuotaLimit } from '../engine/types.js'
import type { BrokerEnv } from './env.js'
import { resolveRequestId } from './request-id.js'

// One error type for the HTTP layer and one renderer: every failure leaves as
// {"error":{"code","message","request_id"[,"errcode","errmsg","rid"]}}.

export type ApiErrorCode =
  | 'bad_request'
  | 'invalid_json'
  | 'invalid_code'
  | 'unauthorized'
  | 'forbidden'
  | 'code_blocked'
  | 'not_found'
  | 'method_not_allowed'
  | 'unknown_app'
  | 'code_used'
  | 'payload_too_large'
  | 'request_timeout'
  | 'request_header_fields_too_large'
  | 'quota_exhausted'
  | 'cooldown'
  | 'rate_limited'
  | 'internal'
  | 'wechat_error'
  | 'token_unavailable'
  | 'store_unavailable'

export interface WeChatDetail {
  errcode: number
  errmsg: string
  rid?: string | undefined
}

export class ApiError extends Error {
  override readonly name = 'ApiError'
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: ApiErrorCode,
    message: string,
    readonly opts: {
      retryAfterSeconds?: number | undefined
      wechat?: WeChatDetail | undefined
      limit?: QuotaLimit | undefined
    } = {}
  ) {
    super(message)
  }
}

const ENGINE_STATUS: Record<EngineError['code'], ContentfulStatusCode> = {
  unknown_app: 404,
  quota_exhausted: 429,
  cooldown: 429,
  token_unavailable: 503,
  wechat_error: 502,
  store_unavailable: 503,
}

/** WeChat's login errors that mean something to the caller, each with its own status. */
const LOGIN_ERRORS: Record<
  number,
  { status: ContentfulStatusCode; code: ApiErrorCode; message: string; retryAfter?: number }
> = {
  40029: {
    status: 400,
    code: 'invalid_code',
    message: 'the login code is invalid or expired; call wx.login again',
  },
  40163: {
    status: 409,
    code: 'code_used',
    message: 'the login code was already used; call wx.login again',
  },
  40226: {
    status: 403,
    code: 'code_blocked',
    message: 'WeChat blocked this login (high-risk user)',
  },
  45011: {
    status: 429,
    code: 'rate_limited',
    message: 'WeChat rate-limited logins for this user; retry in a minute',
    retryAfter: 60,
  },
}

export function fromEngineError(err: EngineError): ApiError {
  return new ApiError(ENGINE_STATUS[err.code], err.code, err.message, {
    retryAfterSeconds: err.retryAfterSeconds,
    wechat: err.wechat,
    limit: err.limit,
  })
}

/** code2Session failures: WeChat's login errcodes map to distinct statuses; the rest as usual. */
export function fromLoginError(err: EngineError): ApiError {
  const known =
    err.code === 'wechat_error' && err.wechat ? LOGIN_ERRORS[err.wechat.errcode] : undefined
  if (!known) return fromEngineError(err)
  return new ApiError(known.status, known.code, known.message, {
    retryAfterSeconds: known.retryAfter,
    wechat: err.wechat,
  })
}

/** The envelope's inner object: `{"code","message","request_id"}`; request_id null before a request exists. */
export function errorBody(
  code: ApiErrorCode,
  message: string,
  requestId: string | null
): Record<string, unknown> {
  return { code, message, request_id: requestId }
}

/** The envelope: one shape for every failure. */
function envelope(err: ApiError, requestId: string): { error: Record<string, unknown> } {
  const body = errorBody(err.code, err.message, requestId)
  if (err.opts.wechat) {
    body.errcode = err.opts.wechat.errcode
    body.errmsg = err.opts.wechat.errmsg
    body.rid = err.opts.wechat.rid ?? null
  }
  if (err.opts.limit) body.limit = err.opts.limit
  return { error: body }
}

export function errorResponse(c: Context<BrokerEnv>, err: ApiError): Response {
  if (err.opts.retryAfterSeconds !== undefined) {
    c.header('Retry-After', String(Math.max(1, Math.ceil(err.opts.retryAfterSeconds))))
  } else if (err.status === 503) {
    c.header('Retry-After', '1')
  }
  return c.json(envelope(err, c.get('requestId')), err.status)
}

/**
 * node-server refuses a request it cannot make a URL of (a Host header such as `a b` or `x@y`, a
 * backslash in the path) before Hono sees it, with a bare 400 and no body. Given to node-server as
 * its errorHandler, this answers in the envelope too, with a new request id. Anything else that
 * fails there (nothing should) is a 500 in the envelope.
 */
export function requestErrorResponse(err: unknown): Response {
  const apiError =
    err instanceof RequestError
      ? new ApiError(400, 'bad_request', 'malformed request: invalid Host header or request target')
      : new ApiError(500, 'internal', 'internal error')
  const requestId = resolveRequestId(undefined)
  return new Response(JSON.stringify(envelope(apiError, requestId)), {
    status: apiError.status,
    headers: { 'content-type': 'application/json', 'x-request-id': requestId },
  })
}

/** Turns anything thrown in a handler into an ApiError. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err
  if (err instanceof EngineError) return fromEngineError(err)
  if (err instanceof HTTPException) {
    if (err.status === 413)
      return new ApiError(413, 'payload_too_large', 'request body is too large')
    if (err.status === 415) {
      return new ApiError(
        400,
        'bad_request',
        'send the body as JSON with Content-Type: application/json'
      )
    }
    if (err.status === 400) {
      return new ApiError(400, 'invalid_json', 'request body is not valid JSON')
    }
    return new ApiError(err.status, 'bad_request', err.message || 'bad request')
  }
  return new ApiError(500, 'internal', 'internal error')
}
