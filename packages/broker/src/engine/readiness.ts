import type { AppStatus, Degradation, Readiness } from './types.js'

// Readiness and degradation, decided in one place (design §3.7). A replica is ready while it can
// serve a valid token for every app: a store outage, a failing app or a tight quota are reported
// as degradations but keep it in the load balancer, because every replica shares the store and
// taking them all out at once would turn a Redis blip into a total outage while each still holds
// a valid token. A new condition is one more entry in REPLICA_CHECKS or APP_CHECKS, nothing else.

/** What readiness is judged on: plain state, read synchronously from memory. */
export interface ReplicaView {
  /** The engine's life: readers wait while it is starting. */
  phase: 'new' | 'starting' | 'started' | 'stopped'
  storeUp: boolean
  apps: readonly AppStatus[]
  /** The engine's clock: "just detected" is measured against it. */
  now: number
}

type Check<T> = (subject: T, now: number) => Degradation | null

/** How long a detected refresh by someone else stays on the list. */
export const FOREIGN_REFRESH_SHOWN_MS = 10 * 60_000

const REPLICA_CHECKS: readonly Check<ReplicaView>[] = [
  (v) => (v.phase === 'new' ? replica('not_started', 'engine not started', true) : null),
  (v) => (v.phase === 'starting' ? replica('starting', 'starting', true) : null),
  (v) => (v.storeUp ? null : replica('store_unreachable', 'store unreachable', false)),
]

const APP_CHECKS: readonly Check<AppStatus>[] = [
  // expiresIn is null exactly when the slot has no token it may serve.
  (s) =>
    s.expiresIn !== null
      ? null
      : app(s, 'no_token', `no valid token${s.state === 'ok' ? '' : ` (${s.state})`}`, true),
  (s) =>
    s.state !== 'failing'
      ? null
      : app(
          s,
          'app_failing',
          `refreshes failing${s.lastError ? ` (errcode ${s.lastError.errcode})` : ''}`
        ),
  (s) => {
    if (quotaExhausted(s)) return app(s, 'quota_exhausted', "today's token quota is used up")
    if (s.quota.warn) {
      return app(s, 'quota_warn', `${s.quota.used} of ${s.quota.limit} token calls used today`)
    }
    return null
  },
  (s) =>
    s.secret !== 'rejected'
      ? null
      : app(
          s,
          'secret_rejected',
          `WeChat refuses this replica's token requests${s.lastError ? ` (errcode ${s.lastError.errcode})` : ''}; it serves the shared token but cannot refresh it`
        ),
  (s, now) =>
    s.lastForeignRefresh === null || now - s.lastForeignRefresh.at > FOREIGN_REFRESH_SHOWN_MS
      ? null
      : app(
          s,
          'foreign_refresh',
          `someone else refreshed the token (${s.lastForeignRefresh.evidence}); the broker replaced it`
        ),
]

/** No more upstream token calls today: by the broker's count, or WeChat said so (45009). */
export function quotaExhausted(s: AppStatus): boolean {
  return s.state === 'quota_exhausted' || s.quota.used >= s.quota.limit
}

export function assessReadiness(view: ReplicaView): Readiness {
  const degradations: Degradation[] = []
  const add = (d: Degradation | null): void => {
    if (d) degradations.push(d)
  }
  for (const check of REPLICA_CHECKS) add(check(view, view.now))
  for (const s of view.apps) for (const check of APP_CHECKS) add(check(s, view.now))
  const reasons = degradations.filter((d) => d.blocking).map((d) => d.message)
  return { ready: reasons.length === 0, storeUp: view.storeUp, reasons, degradations }
}

function replica(reason: string, message: string, blocking: boolean): Degradation {
  return { reason, message, blocking }
}

function app(s: AppStatus, code: string, message: string, blocking = false): Degradation {
  return { reason: `${code}:${s.appid}`, message: `${s.appid}: ${message}`, blocking }
}
