import { randomBytes } from 'node:crypto'

/** The errmsg WeChat sends for each errcode the simulator produces (before the rid suffix). */
const ERRMSG: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40002: 'invalid grant_type',
  40003: 'invalid openid',
  40013: 'invalid appid',
  40029: 'invalid code',
  40037: 'invalid template_id',
  40066: 'invalid url',
  40097: 'invalid args',
  40125: 'invalid appsecret',
  40129: 'invalid scene',
  40159: 'invalid length for path, or the data is not json string',
  40163: 'code been used',
  40165: 'invalid weapp pagepath',
  40169: 'invalid length for scene, or the data is not json string',
  40212: 'invalid query',
  40225: 'invalid page title',
  40226: 'code blocked',
  41001: 'access_token missing',
  41002: 'appid missing',
  41004: 'appsecret missing',
  41008: 'missing code',
  41030: 'invalid page',
  42001: 'access_token expired',
  43002: 'require POST method',
  43101: 'user refuse to accept the msg',
  44002: 'empty post data',
  44993: 'reach max generate limit per day',
  45009: 'reach max api daily quota limit',
  45011: 'api minute-quota reach limit mustslower retry next minute',
  45029: 'qrcode count out of limit',
  47001: 'data format error',
  47003: 'argument invalid!',
  48001: 'api unauthorized',
  48006: 'forbid to clear quota because of reaching the limit',
  76003: 'cgi_path must start with /',
  76021: 'cgi_path not found, please check',
  76022: 'could not use this cgi_path, no permission',
  85088: 'no cloud base env',
  85096: 'not allow include scancode_time field',
  85400: 'long-term link count reached limit',
  85401: 'time limit between 1min and 30days',
  85402: 'invalid env_version',
  87007: 'session_key is not existd or expired',
  87008: 'invalid sig_method',
  87009: 'invalid signature',
}

/** A request id in WeChat's current form: 3 × 8 lower-case hex digits. */
export function newRid(): string {
  const hex = randomBytes(12).toString('hex')
  return `${hex.slice(0, 8)}-${hex.slice(8, 16)}-${hex.slice(16)}`
}

/** The text WeChat uses for an errcode; unknown codes get a generic text. */
export function errmsgFor(errcode: number): string {
  return ERRMSG[errcode] ?? `error ${errcode}`
}

/**
 * A WeChat API error: becomes an HTTP 200 JSON body `{errcode, errmsg: "... rid: ..."}`.
 * `detail` replaces the standard text where WeChat names the offending field or value.
 */
export class WxError extends Error {
  constructor(
    readonly errcode: number,
    readonly detail?: string
  ) {
    super(detail ?? errmsgFor(errcode))
    this.name = 'WxError'
  }

  body(): { errcode: number; errmsg: string } {
    return { errcode: this.errcode, errmsg: `${this.message} rid: ${newRid()}` }
  }
}

/** Bad input to the admin API: answered with HTTP 400 and `{error}`. */
export class AdminInputError extends Error {
  override name = 'AdminInputError'
}
