/**
 * Every error this library throws. All set `name`, pass `cause`, and carry a `retryable` flag.
 * Messages are built only from non-secret values: never a token, app secret, session_key or key.
 */

export interface ClientErrorOptions {
  cause?: unknown
  retryable?: boolean
}

/** Base class: `instanceof WxClientError` catches everything this library throws on purpose. */
export class WxClientError extends Error {
  override name = 'WxClientError'
  /** Whether trying the same call again later may succeed. */
  readonly retryable: boolean

  constructor(message: string, options: ClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.retryable = options.retryable ?? false
  }
}

/** A bad option or argument. `field` names it; the message says how to fix it. */
export class InvalidInputError extends WxClientError {
  override name = 'InvalidInputError'
  constructor(
    readonly field: string,
    fix: string
  ) {
    super(`${field}: ${fix}`)
  }
}

export interface WeChatApiErrorInit {
  errcode: number
  errmsg: string
  endpoint: string
  cause?: unknown
}

const RID_PATTERN = /\brid:\s*([0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8})/i
const HINT_PATTERN = /\bhint:\s*\[([^\]]+)\]/

/** Extracts WeChat's request id (` rid: 617682e0-09059ac5-34a8e2ea` or ` hint: [..]`) from an errmsg. */
export function extractRid(errmsg: string): string | undefined {
  return RID_PATTERN.exec(errmsg)?.[1] ?? HINT_PATTERN.exec(errmsg)?.[1]
}

/** WeChat answered with a non-zero `errcode`. Only `-1` (system error) is retryable. */
export class WeChatApiError extends WxClientError {
  override name = 'WeChatApiError'
  readonly errcode: number
  readonly errmsg: string
  /** WeChat's request id, for `/cgi-bin/openapi/rid/get` (kept 7 days), when the errmsg has one. */
  readonly rid: string | undefined
  /** The endpoint path, e.g. `/cgi-bin/message/subscribe/send` (never the query string). */
  readonly endpoint: string

  constructor(init: WeChatApiErrorInit) {
    super(`WeChat ${init.endpoint} failed with errcode ${init.errcode}: ${init.errmsg}`, {
      cause: init.cause,
      retryable: init.errcode === -1,
    })
    this.errcode = init.errcode
    this.errmsg = init.errmsg
    this.rid = extractRid(init.errmsg)
    this.endpoint = init.endpoint
  }
}

export interface BrokerErrorInit {
  status: number
  code: string
  message: string
  requestId: string | undefined
  url: string
  errcode?: number | undefined
  errmsg?: string | undefined
  rid?: string | undefined
  retryAfterSeconds?: number | undefined
}

/** The broker answered with an error envelope (`{"error":{"code","message","request_id"}}`). */
export class BrokerError extends WxClientError {
  override name = 'BrokerError'
  /** HTTP status of the broker's answer. */
  readonly status: number
  /** The broker's machine-readable error code. */
  readonly code: string
  readonly requestId: string | undefined
  /** The broker URL that answered (origin and path; the broker never needs a query). */
  readonly url: string
  /** For 502: WeChat's own errcode, errmsg and rid. */
  readonly errcode: number | undefined
  readonly errmsg: string | undefined
  readonly rid: string | undefined
  /** For 503 (and 429 when given): the broker's `Retry-After`, in seconds. */
  readonly retryAfterSeconds: number | undefined

  constructor(init: BrokerErrorInit) {
    const wechat = init.errcode === undefined ? '' : ` (WeChat errcode ${init.errcode})`
    const request = init.requestId === undefined ? '' : ` [request ${init.requestId}]`
    super(`wxbroker answered ${init.status} ${init.code}: ${init.message}${wechat}${request}`, {
      // A 502 is WeChat's answer relayed: only its system error (-1) is worth another try.
      retryable: init.status === 502 ? init.errcode === -1 : init.status >= 500,
    })
    this.status = init.status
    this.code = init.code
    this.requestId = init.requestId
    this.url = init.url
    this.errcode = init.errcode
    this.errmsg = init.errmsg
    this.rid = init.rid
    this.retryAfterSeconds = init.retryAfterSeconds
  }
}

/**
 * The request did not produce a usable answer: `connect` (never delivered: refused, DNS),
 * `network` (failed mid-way: may have been delivered), `timeout`, `http` (a 5xx or other
 * status without a usable body) or `invalid_response` (a body that is not what the API returns).
 */
export type TransportErrorKind = 'connect' | 'network' | 'timeout' | 'http' | 'invalid_response'

export interface TransportErrorInit {
  kind: TransportErrorKind
  /** Where: an endpoint path or a URL without its query string. */
  target: string
  status?: number | undefined
  detail?: string | undefined
  cause?: unknown
}

export class TransportError extends WxClientError {
  override name = 'TransportError'
  readonly kind: TransportErrorKind
  readonly target: string
  readonly status: number | undefined

  constructor(init: TransportErrorInit) {
    const status = init.status === undefined ? '' : ` (HTTP ${init.status})`
    const detail = init.detail === undefined ? '' : `: ${init.detail}`
    super(`${init.kind} error calling ${init.target}${status}${detail}`, {
      cause: init.cause,
      retryable:
        init.kind === 'connect' ||
        init.kind === 'network' ||
        init.kind === 'timeout' ||
        (init.kind === 'http' && (init.status ?? 0) >= 500),
    })
    this.kind = init.kind
    this.target = init.target
    this.status = init.status
  }
}

export type DecryptErrorReason =
  | 'invalid_base64'
  | 'invalid_key_length'
  | 'invalid_iv_length'
  | 'invalid_ciphertext_length'
  | 'bad_padding'
  | 'invalid_plaintext'
  | 'appid_mismatch'
  | 'missing_watermark'
  | 'signature_mismatch'
  | 'missing_field'

/** Decryption or signature verification failed. Never carries key material or OpenSSL's text. */
export class DecryptError extends WxClientError {
  override name = 'DecryptError'
  constructor(
    readonly reason: DecryptErrorReason,
    message: string
  ) {
    super(`${reason}: ${message}`)
  }
}

/** A session id that is unknown, expired, destroyed or malformed. */
export class SessionNotFoundError extends WxClientError {
  override name = 'SessionNotFoundError'
  constructor() {
    super('no such session: it expired, was destroyed, or the id is wrong; log in again')
  }
}
