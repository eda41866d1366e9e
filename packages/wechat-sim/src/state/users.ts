import { randomBytes } from 'node:crypto'
import { minuteOf } from '../clock.js'
import { WxError } from '../errors.js'
import type { SimLoginCodeInit, SimPhoneCodeInit, SimUser, SimUserInit } from '../types.js'
import type { AppConfig } from './apps.js'

/** A registered code and what became of it. */
type Issued<T> = T & { used: boolean; expiresAt: number }
type LoginCode = Issued<SimLoginCodeInit>
type PhoneCode = Issued<SimPhoneCodeInit>

/** WeChat's login and phone codes are valid for 5 minutes. */
const CODE_TTL_SECONDS = 300

function codeExpiry(ttlSeconds: number | null | undefined, now: number): number {
  return ttlSeconds === null ? Infinity : now + (ttlSeconds ?? CODE_TTL_SECONDS) * 1000
}

export interface LoginResult {
  openid: string
  session_key: string
  unionid?: string
}

export interface PhoneInfo {
  phoneNumber: string
  purePhoneNumber: string
  countryCode: number
}

/** A fresh session_key as WeChat issues them: base64 of 16 random bytes. */
export function newSessionKey(): string {
  return randomBytes(16).toString('base64')
}

function newUnionid(): string {
  return `o${randomBytes(21).toString('base64url')}`
}

/** Users per app, their one-use login and phone codes, and the per-user login rate. */
export class Users {
  private readonly users = new Map<string, SimUser>()
  private readonly loginCodes = new Map<string, LoginCode>()
  private readonly phoneCodes = new Map<string, PhoneCode>()
  /** Logins per user in the current minute only (older minutes are dropped). */
  private readonly loginsPerMinute = new Map<string, number>()
  private rateMinute = -1

  upsert(init: SimUserInit): SimUser {
    const key = `${init.appid}|${init.openid}`
    const existing = this.users.get(key)
    const user: SimUser = {
      appid: init.appid,
      openid: init.openid,
      unionid: init.unionid ?? existing?.unionid ?? null,
      sessionKey: init.sessionKey ?? existing?.sessionKey ?? null,
    }
    this.users.set(key, user)
    return user
  }

  get(appid: string, openid: string): SimUser | undefined {
    return this.users.get(`${appid}|${openid}`)
  }

  addLoginCode(init: SimLoginCodeInit, now: number): void {
    const expiresAt = codeExpiry(init.ttlSeconds, now)
    this.loginCodes.set(`${init.appid}|${init.code}`, { ...init, used: false, expiresAt })
  }

  /**
   * `jscode2session`: unknown (or another app's) or expired code → 40029, used → 40163, blocked →
   * 40226, more than the per-user rate in a minute → 45011 (the code is not spent by a refused
   * call). An expired code is gone, used or not.
   */
  login(app: AppConfig, code: string, now: number): LoginResult {
    const entry = this.loginCodes.get(`${app.appid}|${code}`)
    if (!entry || now >= entry.expiresAt) throw new WxError(40029)
    if (entry.used) throw new WxError(40163)
    if (entry.blocked) throw new WxError(40226)
    if (minuteOf(now) !== this.rateMinute) {
      this.loginsPerMinute.clear()
      this.rateMinute = minuteOf(now)
    }
    const rateKey = `${app.appid}|${entry.openid}`
    const calls = this.loginsPerMinute.get(rateKey) ?? 0
    if (calls >= app.loginRatePerMinute) throw new WxError(45011)
    this.loginsPerMinute.set(rateKey, calls + 1)
    entry.used = true
    const previous = this.get(app.appid, entry.openid)
    const unionid =
      entry.unionid ?? previous?.unionid ?? (app.unionBound ? newUnionid() : undefined)
    const user = this.upsert({
      appid: app.appid,
      openid: entry.openid,
      sessionKey: entry.sessionKey ?? newSessionKey(),
      ...(unionid === undefined ? {} : { unionid }),
    })
    const result: LoginResult = { openid: user.openid, session_key: user.sessionKey! }
    if (app.unionBound && user.unionid !== null) result.unionid = user.unionid
    return result
  }

  /** Replaces the user's session_key (`resetusersessionkey`); the old one stops working. */
  resetSessionKey(user: SimUser): string {
    user.sessionKey = newSessionKey()
    return user.sessionKey
  }

  addPhoneCode(init: SimPhoneCodeInit, now: number): void {
    this.phoneCodes.set(init.code, {
      ...init,
      used: false,
      expiresAt: codeExpiry(init.ttlSeconds, now),
    })
  }

  /** One-use phone codes: unknown, used or expired → 40029; issued for another app → 40013. */
  redeemPhoneCode(appid: string, code: string, now: number): PhoneInfo {
    const entry = this.phoneCodes.get(code)
    if (!entry || entry.used || now >= entry.expiresAt) throw new WxError(40029)
    if (entry.appid !== appid) throw new WxError(40013)
    entry.used = true
    return {
      phoneNumber: entry.phoneNumber,
      purePhoneNumber: entry.purePhoneNumber,
      countryCode: Number(entry.countryCode),
    }
  }

  clear(): void {
    this.users.clear()
    this.loginCodes.clear()
    this.phoneCodes.clear()
    this.loginsPerMinute.clear()
  }
}
