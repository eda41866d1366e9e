import { storeKeys } from './store/keys.js'
import type { Store } from './store/types.js'
import { EngineError, type AppState, type AppStatus } from './types.js'

/**
 * The latest refresh outcome of a slot, whichever replica had it. Each replica publishes its own
 * outcomes and takes a newer one from the store on sync, so every replica reports the same state
 * and last error (`/v1/apps` and `wxbroker_app_failing` do not depend on which replica answers),
 * and a recovery seen by one clears the state on all.
 */
export interface SlotHealth {
  /** When the outcome happened; the newest wins. */
  at: number
  state: AppState
  lastRefresh: AppStatus['lastRefresh']
  lastError: AppStatus['lastError']
  nextAttemptAt: number | null
  lastForeignRefresh: AppStatus['lastForeignRefresh']
}

const HEALTH_TTL_MS = 2 * 86_400_000

export async function publishHealth(store: Store, slot: string, health: SlotHealth): Promise<void> {
  await store.setValue(storeKeys.health(slot), JSON.stringify(health), HEALTH_TTL_MS)
}

export async function readHealth(store: Store, slot: string): Promise<SlotHealth | null> {
  const raw = await store.getValue(storeKeys.health(slot))
  if (raw === null) return null
  try {
    const h = JSON.parse(raw) as Partial<SlotHealth>
    return typeof h.at === 'number' && typeof h.state === 'string'
      ? {
          at: h.at,
          state: h.state,
          lastRefresh: h.lastRefresh ?? null,
          lastError: h.lastError ?? null,
          nextAttemptAt: h.nextAttemptAt ?? null,
          lastForeignRefresh: h.lastForeignRefresh ?? null,
        }
      : null
  } catch {
    return null
  }
}

/**
 * A slot's refresh outcomes: the app's state, its last refresh and last error, when the next
 * attempt comes, and this replica's own back-off. The slot changes them as refreshes succeed and
 * fail; they go to the store as a SlotHealth (snapshot) and come back from other replicas (adopt).
 */
export class SlotOutcome {
  state: AppState = 'cold'
  /** Why upstream calls stopped for today, while the state is quota_exhausted. */
  exhaustedBy: AppStatus['quota']['exhausted'] = null
  /** Failed refreshes in a row (the back-off grows with them). */
  failures = 0
  /** This replica's own back-off: no attempt before it. */
  retryAt: number | null = null
  lastRefresh: AppStatus['lastRefresh'] = null
  lastError: AppStatus['lastError'] = null
  nextAttemptAt: number | null = null
  lastForeign: AppStatus['lastForeignRefresh'] = null
  /** When the newest outcome this replica knows of happened (its own or another's). */
  private at = 0

  /** A token to serve was adopted: a cold or failing app is ok again, the back-off ends. */
  tokenAdopted(): void {
    if (this.state === 'cold' || this.state === 'failing') this.state = 'ok'
    this.failures = 0
    this.retryAt = null
    this.nextAttemptAt = null
  }

  /** This replica's latest outcome, as of `at`, to publish. */
  snapshot(at: number): SlotHealth {
    this.at = at
    return {
      at,
      state: this.state,
      lastRefresh: this.lastRefresh,
      lastError: this.lastError,
      nextAttemptAt: this.nextAttemptAt,
      lastForeignRefresh: this.lastForeign,
    }
  }

  /** Takes another replica's newer outcome: its state, last refresh and last error. */
  adopt(health: SlotHealth): void {
    if (health.at <= this.at) return
    this.at = health.at
    this.lastRefresh = health.lastRefresh ?? this.lastRefresh
    this.lastError = health.lastError ?? this.lastError
    this.nextAttemptAt = health.nextAttemptAt
    this.lastForeign = health.lastForeignRefresh ?? this.lastForeign
    // A replica without a token (cold) keeps saying so; otherwise the cluster's state is ours.
    if (this.state !== 'cold') this.state = health.state
  }

  /** The error a reader of `appid` gets while there is no token to serve. */
  unavailable(appid: string, now: number): EngineError {
    const retryAfterSeconds = Math.max(
      1,
      Math.ceil(((this.nextAttemptAt ?? now + 1000) - now) / 1000)
    )
    // WeChat's own words, when WeChat refused (never for transport failures, recorded as -1).
    const last = this.lastError
    const wechat =
      last && last.errcode !== -1
        ? { errcode: last.errcode, errmsg: last.errmsg, rid: last.rid }
        : undefined
    if (this.state === 'quota_exhausted') {
      const fromWeChat = this.exhaustedBy === 'wechat_daily_quota'
      return new EngineError(
        'quota_exhausted',
        fromWeChat
          ? `WeChat says the daily token quota of ${appid} is used up (errcode 45009)`
          : `the daily token quota of ${appid} is used up`,
        {
          retryAfterSeconds,
          limit: fromWeChat ? 'wechat_daily_quota' : 'daily_quota',
          ...(fromWeChat && wechat ? { wechat } : {}),
        }
      )
    }
    if (wechat) {
      return new EngineError(
        'wechat_error',
        `WeChat refused a token for ${appid} (errcode ${wechat.errcode})`,
        { retryAfterSeconds, wechat }
      )
    }
    return new EngineError('token_unavailable', `no valid token for ${appid} yet`, {
      retryAfterSeconds,
    })
  }
}
