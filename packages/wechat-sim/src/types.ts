import type { TokenKind } from './admin/schemas.js'

export type {
  KeywordType,
  SimAppInit,
  SimFault,
  SimLoginCodeInit,
  SimPhoneCodeInit,
  SimRiskyKeywords,
  SimSubscriptionGrant,
  SimTemplateInit,
  SimUserInit,
  TokenKind,
} from './admin/schemas.js'

/** A user as the simulator knows it (admin view; the session key is test data here). */
export interface SimUser {
  appid: string
  openid: string
  unionid: string | null
  sessionKey: string | null
}

/** One issued access token. Times are virtual-clock epoch milliseconds. */
export interface SimTokenRecord {
  token: string
  issuedAt: number
  expiresAt: number
  /** When it stopped (or will stop) working before its natural expiry: replaced or retired. */
  retiredAt?: number
}

export interface SimTokens {
  /** The newest token of this kind if it still works, else null. */
  current: string | null
  /** Every token of this kind ever issued to the app, oldest first. */
  all: SimTokenRecord[]
}

export interface SimTokenCheck {
  valid: boolean
  /** 0 when valid; 40001 unknown or retired; 42001 naturally expired. */
  errcode: 0 | 40001 | 42001
  appid?: string
  kind?: TokenKind
}

export interface SimCallLogEntry {
  method: string
  endpoint: string
  appid: string | null
  /** The errcode answered (0 for success, images included); null for HTTP faults and drops. */
  errcode: number | null
  /** HTTP status sent; 0 when the connection was dropped. */
  status: number
  /** Virtual-clock epoch milliseconds at the start of the call. */
  at: number
  /** The injected fault that shaped this call, if any (`hold`: answered, then held back a while). */
  fault?: 'latency' | 'errcode' | 'http_status' | 'drop' | 'hold'
}

/** An answer a `holdAfterMs` fault is holding back right now (admin `GET /__sim/held`). */
export type { HeldAnswer as SimHeldAnswer } from './faults.js'

/** Per-endpoint call counts, keyed by request path (e.g. `/cgi-bin/token`). */
export type SimCallCounts = Record<string, number>
