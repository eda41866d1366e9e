import type { WeChatErrorInfo } from './types.js'

/** WeChat answered with an errcode. */
export class WeChatError extends Error {
  override readonly name = 'WeChatError'
  readonly errcode: number
  readonly errmsg: string
  readonly rid: string | undefined

  constructor(
    readonly endpoint: string,
    info: WeChatErrorInfo
  ) {
    super(`WeChat ${endpoint} answered errcode ${info.errcode}: ${info.errmsg}`)
    this.errcode = info.errcode
    this.errmsg = info.errmsg
    this.rid = info.rid
  }

  get info(): WeChatErrorInfo {
    return { errcode: this.errcode, errmsg: this.errmsg, rid: this.rid }
  }
}

/** No usable answer: connection refused or reset, timeout, HTTP 5xx or a body that is not JSON. */
export class WeChatTransportError extends Error {
  override readonly name = 'WeChatTransportError'
  constructor(
    readonly endpoint: string,
    /** The metrics label: 'network', 'timeout' or 'http_<status>'. */
    readonly label: string,
    message: string,
    options?: { cause?: unknown }
  ) {
    super(`WeChat ${endpoint}: ${message}`, options)
  }
}

const RID = / rid: ([0-9a-f]+-[0-9a-f]+-[0-9a-f]+)/

export function ridOf(errmsg: string): string | undefined {
  return RID.exec(errmsg)?.[1]
}

/** The one errcode an immediate retry can fix: WeChat's system error. (45011 waits a minute.) */
export function isTransientErrcode(errcode: number): boolean {
  return errcode === -1
}

/** The errcodes with which WeChat says a token is invalid, replaced or expired. */
const TOKEN_INVALID_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001])

export function isTokenRejection(errcode: number): boolean {
  return TOKEN_INVALID_ERRCODES.has(errcode)
}

/**
 * Token-endpoint errcodes that say WeChat refuses this replica's requests for good: a wrong,
 * missing or frozen secret (40125, 40001 as older answers put it, 41004, 40243), an appid WeChat
 * does not know (40013), or a caller IP outside the allow-list or awaiting confirmation (40164,
 * 89503, 89506, 89507).
 */
const REPLICA_REFUSED: ReadonlySet<number> = new Set([
  40125, 40001, 41004, 40243, 40013, 40164, 89503, 89506, 89507,
])

export function refusesThisReplica(errcode: number): boolean {
  return REPLICA_REFUSED.has(errcode)
}
