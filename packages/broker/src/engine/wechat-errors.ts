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

const HOUR_MS = 3600_000

/**
 * How long an app waits before it asks WeChat for a token again after a failure that retrying
 * cannot fix (bad secret, IP allow-list, frozen app...). `attempt` counts consecutive failures.
 * 45009 (daily quota) is handled by the caller: it waits for the next quota day.
 */
export function failureBackoffMs(
  errcode: number | undefined,
  attempt: number,
  baseMs: number,
  maxMs: number
): number {
  if (errcode === 89506) return 24 * HOUR_MS
  if (errcode === 89507) return HOUR_MS
  if (errcode === 45011) return 60_000
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
}
