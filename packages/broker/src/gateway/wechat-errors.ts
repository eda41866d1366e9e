import { EngineError } from '../engine/types.js'

// The gateway's own answers are WeChat's: HTTP 200, `Content-Type: application/json;
// encoding=utf-8`, `{"errcode":N,"errmsg":"<WeChat's text> (wxbroker: <why>) rid: wxb-<id>"}`
// (design §10). Never the /v1 envelope and never a 4xx/5xx: SDKs turn a non-2xx status into an
// error string that holds the URL, secret or token included. The rid prefix keeps the broker's
// ids apart from WeChat's, which /cgi-bin/openapi/rid/get looks up.
//
// The broker never answers 40001/40014/42001 for a problem of its own: SDKs react to them by
// fetching a new token and retrying (co-wechat-api recurses without bound). It answers 40001 and
// 42001 only about a token it never issued, or an alias token that was revoked or expired, as
// WeChat would; the SDK then fetches a new one from the gateway.

/** WeChat's JSON Content-Type (`encoding=`, not `charset=`). */
export const WECHAT_JSON = 'application/json; encoding=utf-8'

/** Every errcode the gateway answers itself, with WeChat's own text for it. */
export const GATEWAY_ERRMSG = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40013: 'invalid appid',
  40125: 'invalid appsecret',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  42001: 'access_token expired',
  43001: 'require GET method',
  43002: 'require POST method',
  44002: 'empty post data',
  45002: 'content size out of limit',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit mustslower retry next minute',
  47001: 'data format error',
  48001: 'api unauthorized',
} as const

export type GatewayErrcode = keyof typeof GATEWAY_ERRMSG

/** A refusal before anything reaches WeChat: the errcode and why, for the errmsg. */
export interface Refusal {
  errcode: GatewayErrcode
  /** Said after WeChat's text; never holds a secret, key or token. */
  detail: string
}

export function refusal(errcode: GatewayErrcode, detail: string): Refusal {
  return { errcode, detail }
}

/** The body of a gateway error answer. */
export function wechatErrorBody(r: Refusal, rid: string): string {
  return JSON.stringify({
    errcode: r.errcode,
    errmsg: `${GATEWAY_ERRMSG[r.errcode]} (wxbroker: ${r.detail}) rid: ${rid}`,
  })
}

/** The rid of a gateway request: its request id behind the broker's own prefix. */
export function gatewayRid(requestId: string): string {
  return `wxb-${requestId}`
}

/**
 * The WeChat-shaped answer for an engine failure while getting the app's token: an app the
 * broker does not manage 40013, a daily guard 45009, anything else (WeChat or the store
 * unreachable, still starting) −1, which WxJava retries with back-off. Never 40001.
 */
export function engineRefusal(error: unknown): Refusal {
  if (!(error instanceof EngineError)) return refusal(-1, 'the broker could not get a token')
  switch (error.code) {
    case 'unknown_app':
      return refusal(40013, 'the broker manages no such app')
    case 'quota_exhausted':
      return refusal(45009, `a daily guard of the broker holds (${error.limit ?? 'quota'})`)
    default:
      return refusal(-1, `no valid token can be had now (${error.code})`)
  }
}
