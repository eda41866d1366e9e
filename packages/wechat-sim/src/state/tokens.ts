import { randomBytes } from 'node:crypto'
import { shanghaiDay } from '../clock.js'
import { WxError } from '../errors.js'
import type { SimTokenCheck, SimTokenRecord, SimTokens, TokenKind } from '../types.js'
import type { AppConfig } from './apps.js'

interface TokenRecord extends SimTokenRecord {
  appid: string
  kind: TokenKind
}

interface ForceLog {
  day: number
  count: number
  lastAt: number
}

/** What a token endpoint answers: the token and its remaining life in whole seconds. */
export interface IssuedToken {
  access_token: string
  expires_in: number
}

/** A minimum spacing of 30 s between stable force refreshes (WeChat: "否则不会刷新"). */
const FORCE_MIN_SPACING_MS = 30_000

function newToken(): string {
  // WeChat tokens are opaque strings of ~136 characters (storage guidance: reserve 512).
  return randomBytes(102).toString('base64url')
}

function works(rec: TokenRecord, now: number): boolean {
  return now < rec.expiresAt && (rec.retiredAt === undefined || now < rec.retiredAt)
}

/**
 * Classic and stable access tokens: two fully isolated slots per app. Every token ever issued
 * is kept, so a call with an old token can be told "retired" (40001) from "expired" (42001).
 */
export class Tokens {
  private readonly slots = new Map<string, TokenRecord[]>()
  private readonly byToken = new Map<string, TokenRecord>()
  private readonly forceLogs = new Map<string, ForceLog>()

  private slot(appid: string, kind: TokenKind): TokenRecord[] {
    const key = `${kind}|${appid}`
    let list = this.slots.get(key)
    if (!list) {
      list = []
      this.slots.set(key, list)
    }
    return list
  }

  private issue(app: AppConfig, kind: TokenKind, now: number): TokenRecord {
    const rec: TokenRecord = {
      token: newToken(),
      appid: app.appid,
      kind,
      issuedAt: now,
      expiresAt: now + app.tokenExpiresIn * 1000,
    }
    this.slot(app.appid, kind).push(rec)
    this.byToken.set(rec.token, rec)
    return rec
  }

  private newest(appid: string, kind: TokenKind): TokenRecord | undefined {
    return this.slot(appid, kind).at(-1)
  }

  /** `GET /cgi-bin/token`: a new token; the previous one keeps working for the overlap only. */
  issueClassic(app: AppConfig, now: number): IssuedToken {
    const previous = this.newest(app.appid, 'classic')
    if (previous && works(previous, now)) {
      const overlapEnd = now + app.tokenOverlapSeconds * 1000
      if (overlapEnd < Math.min(previous.expiresAt, previous.retiredAt ?? Infinity))
        previous.retiredAt = overlapEnd
    }
    return answer(this.issue(app, 'classic', now), now)
  }

  /**
   * `POST /cgi-bin/stable_token`. Normal mode returns the current token while more than the
   * renew window remains, and inside the window issues a new one (the old keeps its own expiry).
   * Force mode issues a new token and retires the old at once, at most `forceRefreshDailyLimit`
   * per quota day (then 45009) and 30 s apart; a too-early force returns the current token.
   */
  stable(app: AppConfig, now: number, force: boolean): IssuedToken {
    const current = this.newest(app.appid, 'stable')
    const live = current && works(current, now) ? current : undefined
    if (force) {
      const log = this.forceLog(app.appid, now)
      if (log.count >= app.forceRefreshDailyLimit) throw new WxError(45009)
      if (live && now - log.lastAt < FORCE_MIN_SPACING_MS) return answer(live, now)
      if (live) live.retiredAt = now
      log.count += 1
      log.lastAt = now
      return answer(this.issue(app, 'stable', now), now)
    }
    const windowMs = app.tokenOverlapSeconds * 1000
    if (live && live.expiresAt - now > windowMs) return answer(live, now)
    return answer(this.issue(app, 'stable', now), now)
  }

  private forceLog(appid: string, now: number): ForceLog {
    const day = shanghaiDay(now)
    let log = this.forceLogs.get(appid)
    if (!log || log.day !== day) {
      log = { day, count: 0, lastAt: log?.lastAt ?? -Infinity }
      this.forceLogs.set(appid, log)
    }
    return log
  }

  /** clear_quota also restores the day's force-refresh budget. */
  clearForceCount(appid: string): void {
    const log = this.forceLogs.get(appid)
    if (log) log.count = 0
  }

  /** The check every token-authenticated endpoint makes, at the moment of the call. */
  check(token: string, now: number): SimTokenCheck {
    const rec = this.byToken.get(token)
    if (!rec) return { valid: false, errcode: 40001 }
    const who = { appid: rec.appid, kind: rec.kind }
    if (works(rec, now)) return { valid: true, errcode: 0, ...who }
    const retired = rec.retiredAt !== undefined && rec.retiredAt < rec.expiresAt
    return { valid: false, errcode: retired ? 40001 : 42001, ...who }
  }

  /** Admin: retire every still-working token of this kind now (as after a leak). */
  retire(appid: string, kind: TokenKind, now: number): void {
    for (const rec of this.slot(appid, kind)) if (works(rec, now)) rec.retiredAt = now
  }

  view(appid: string, kind: TokenKind, now: number): SimTokens {
    const list = this.slot(appid, kind)
    const newest = list.at(-1)
    return {
      current: newest && works(newest, now) ? newest.token : null,
      all: list.map(({ token, issuedAt, expiresAt, retiredAt }) =>
        retiredAt === undefined
          ? { token, issuedAt, expiresAt }
          : { token, issuedAt, expiresAt, retiredAt }
      ),
    }
  }

  clear(): void {
    this.slots.clear()
    this.byToken.clear()
    this.forceLogs.clear()
  }
}

function answer(rec: TokenRecord, now: number): IssuedToken {
  return { access_token: rec.token, expires_in: Math.floor((rec.expiresAt - now) / 1000) }
}
