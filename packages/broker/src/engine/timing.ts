import type { TokenRecord } from './store/types.js'
import type { EngineTuning, TokenKind } from './types.js'

// The timing rules of the engine, as plain functions of their inputs: when a token is due, how
// long a reader may use it, how much jitter delays a refresh, how long to back off. No clock, no
// store, no WeChat: src/engine/timing.test.ts pins them in tables. Times are epoch milliseconds.

/** What the timing of one app's tokens depends on. */
export interface TimingRules {
  kind: TokenKind
  /** refreshLeadSeconds, in ms (classic tokens). */
  leadMs: number
  /** WeChat's overlap after a classic refresh, and its stable pre-rotation window, in ms. */
  overlapMs: number
  /** Cap of the random delay added to a scheduled refresh (maxJitterSeconds), in ms. */
  maxJitterMs: number
}

/**
 * When the broker replaces a record. Classic: `lead` before WeChat's expiry, but not in the first
 * half of its life. Stable: inside WeChat's own last-overlap window (at 80% of it, a margin for the
 * clock difference), because only there does normal mode hand out a new token.
 */
export function plannedRefreshAt(rules: TimingRules, record: TokenRecord): number {
  if (rules.kind === 'stable') return record.wechatExpiresAt - rules.overlapMs * 0.8
  const life = record.wechatExpiresAt - record.obtainedAt
  return Math.max(record.obtainedAt + life / 2, record.wechatExpiresAt - rules.leadMs)
}

/**
 * Until when a reader may use a record (guarantee 3). A classic token is retired `overlap` after the
 * refresh that replaces it, and scheduled refreshes never start before plannedRefreshAt (jitter only
 * delays), so plannedRefreshAt + overlap is safe. A stable token renewed in normal mode lives to its
 * own expiry. Early retirements (an intent, a foreign refresh) cap this further in the slot.
 */
export function safeUntil(rules: TimingRules, record: TokenRecord): number {
  if (rules.kind === 'stable') return record.wechatExpiresAt
  return Math.min(record.wechatExpiresAt, plannedRefreshAt(rules, record) + rules.overlapMs)
}

/**
 * The largest random delay added to a scheduled refresh, so that replicas do not all reach for the
 * lock at the same instant: a tenth of the margin the refresh has (the lead, or the stable window),
 * at most maxJitter. It only ever delays, so it never shortens what readers were told.
 */
export function jitterBoundMs(rules: TimingRules): number {
  const margin = rules.kind === 'stable' ? rules.overlapMs : rules.leadMs
  return Math.min(rules.maxJitterMs, margin * 0.1)
}

/** How long before WeChat's expiry the record is due (what alerts compare against). */
export function effectiveLeadSeconds(rules: TimingRules, record: TokenRecord | null): number {
  if (!record)
    return rules.kind === 'classic' ? rules.leadMs / 1000 : (rules.overlapMs * 0.8) / 1000
  return (record.wechatExpiresAt - plannedRefreshAt(rules, record)) / 1000
}

/**
 * How soon to look again while a refresh is due but did not happen here: another replica holds the
 * lock, or WeChat handed back the same stable token. 5% of the overlap, between 1 and 15 s.
 */
export function retryDelayMs(rules: Pick<TimingRules, 'overlapMs'>): number {
  return Math.max(1000, Math.min(rules.overlapMs * 0.05, 15_000))
}

/** The one back-off formula: `base` doubled per consecutive attempt (1, 2, 3...), capped. */
export function exponentialBackoffMs(baseMs: number, attempt: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1))
}

const HOUR_MS = 3600_000

/**
 * How long an app waits before asking WeChat for a token again after `attempt` consecutive failed
 * refreshes. WeChat's own waits come first: 45011 (per-minute limit) a minute, 89507 / 89506 (an
 * administrator refused this IP) an hour / a day. Otherwise the back-off formula, from
 * `failureBackoffMs` for errcodes retrying cannot fix, from `transientBackoffMs` for transient
 * failures (-1, 5xx, network) that outlasted the retries within the refresh. 45009 (the daily
 * quota) waits for the next quota day: the caller handles it.
 */
export function failureBackoffMs(
  failure: { errcode?: number | undefined; transient: boolean },
  attempt: number,
  tuning: Pick<EngineTuning, 'failureBackoffMs' | 'transientBackoffMs' | 'maxBackoffMs'>
): number {
  if (failure.errcode === 89506) return 24 * HOUR_MS
  if (failure.errcode === 89507) return HOUR_MS
  if (failure.errcode === 45011) return 60_000
  const base = failure.transient ? tuning.transientBackoffMs : tuning.failureBackoffMs
  return exponentialBackoffMs(base, attempt, tuning.maxBackoffMs)
}

/**
 * The wait before retry number `retry` (1, 2...) of a transient failure within one refresh: the
 * back-off formula with equal jitter (half fixed, half random), so replicas do not retry in lockstep.
 */
export function retryPauseMs(
  retry: number,
  policy: { baseDelayMs: number; maxDelayMs: number },
  random: () => number = Math.random
): number {
  const ceiling = exponentialBackoffMs(policy.baseDelayMs, retry, policy.maxDelayMs)
  return ceiling / 2 + random() * (ceiling / 2)
}
