import type { Fault } from '../faults.js'
import type { AppConfig } from '../state/apps.js'
import type {
  SimAppInit,
  SimCallCounts,
  SimCallLogEntry,
  SimFault,
  SimHeldAnswer,
  SimLoginCodeInit,
  SimPhoneCodeInit,
  SimRiskyKeywords,
  SimSubscriptionGrant,
  SimTemplateInit,
  SimTokenCheck,
  SimTokens,
  SimUser,
  SimUserInit,
  TokenKind,
} from '../types.js'

/** A registered app as the admin API reports it: every default applied, the secret never echoed. */
export type SimAppView = Omit<AppConfig, 'secret'>

/** A pending fault as the admin API reports it. */
export type SimFaultView = Fault

/**
 * Typed client for the simulator's admin API (`/__sim/`). Needs only the simulator's URL, so
 * it works from any process.
 */
export class SimAdmin {
  private readonly base: string

  constructor(baseUrl: string) {
    this.base = `${baseUrl.replace(/\/+$/, '')}/__sim`
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
    })
    const text = await res.text()
    if (!res.ok) {
      let message = text
      try {
        message = (JSON.parse(text) as { error?: string }).error ?? text
      } catch {
        // not JSON: keep the text
      }
      throw new Error(`wechat-sim admin ${method} ${path} failed (${res.status}): ${message}`)
    }
    return JSON.parse(text) as T
  }

  registerApp(init: SimAppInit): Promise<SimAppView> {
    return this.request('POST', '/apps', init)
  }

  registerUser(init: SimUserInit): Promise<SimUser> {
    return this.request('POST', '/users', init)
  }

  /** The user, or null when the simulator does not know it. */
  async getUser(appid: string, openid: string): Promise<SimUser | null> {
    const path = `/users/${encodeURIComponent(appid)}/${encodeURIComponent(openid)}`
    const res = await fetch(`${this.base}${path}`)
    if (res.status === 404) return null
    if (!res.ok) throw new Error(`wechat-sim admin GET ${path} failed (${res.status})`)
    return (await res.json()) as SimUser
  }

  async registerLoginCode(init: SimLoginCodeInit): Promise<void> {
    await this.request('POST', '/login-codes', init)
  }

  async registerPhoneCode(init: SimPhoneCodeInit): Promise<void> {
    await this.request('POST', '/phone-codes', init)
  }

  async registerTemplate(init: SimTemplateInit): Promise<void> {
    await this.request('POST', '/templates', init)
  }

  /** Adds one-time subscriptions; resolves to the user's remaining count for the template. */
  async grantSubscription(grant: SimSubscriptionGrant): Promise<number> {
    return (await this.request<{ remaining: number }>('POST', '/subscriptions', grant)).remaining
  }

  async setRiskyKeywords(config: SimRiskyKeywords): Promise<void> {
    await this.request('PUT', '/risky-keywords', config)
  }

  /** The simulator's virtual time (epoch ms). */
  async now(): Promise<number> {
    return (await this.request<{ now: number }>('GET', '/clock')).now
  }

  async setClock(epochMs: number): Promise<number> {
    return (await this.request<{ now: number }>('POST', '/clock/set', { epochMs })).now
  }

  async advanceClock(ms: number): Promise<number> {
    return (await this.request<{ now: number }>('POST', '/clock/advance', { ms })).now
  }

  /** Adds a fault; resolves to its id. */
  async addFault(fault: SimFault): Promise<number> {
    return (await this.request<{ id: number }>('POST', '/faults', fault)).id
  }

  faults(): Promise<SimFaultView[]> {
    return this.request('GET', '/faults')
  }

  async clearFaults(): Promise<void> {
    await this.request('DELETE', '/faults')
  }

  /** Removes one pending fault (others stay); resolves false when it was no longer pending. */
  async removeFault(id: number): Promise<boolean> {
    return (await this.request<{ removed: boolean }>('DELETE', `/faults/${id}`)).removed
  }

  /** Answers a `holdAfterMs` fault is holding back now, with the waiting caller's port. */
  held(): Promise<SimHeldAnswer[]> {
    return this.request('GET', '/held')
  }

  calls(): Promise<SimCallCounts> {
    return this.request('GET', '/calls')
  }

  callLog(): Promise<SimCallLogEntry[]> {
    return this.request('GET', '/call-log')
  }

  tokens(appid: string, kind: TokenKind): Promise<SimTokens> {
    return this.request('GET', `/tokens/${encodeURIComponent(appid)}/${kind}`)
  }

  checkToken(token: string): Promise<SimTokenCheck> {
    return this.request('POST', '/tokens/check', { token })
  }

  async retireToken(appid: string, kind: TokenKind): Promise<void> {
    await this.request('POST', `/tokens/${encodeURIComponent(appid)}/${kind}/retire`)
  }

  async reset(): Promise<void> {
    await this.request('POST', '/reset')
  }
}
