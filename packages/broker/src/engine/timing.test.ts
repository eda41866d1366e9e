import { describe, expect, it } from 'vitest'
import {
  effectiveLeadSeconds,
  exponentialBackoffMs,
  failureBackoffMs,
  jitterBoundMs,
  plannedRefreshAt,
  retryDelayMs,
  retryPauseMs,
  safeUntil,
  type TimingRules,
} from './timing.js'
import type { TokenRecord } from './store/types.js'

const S = 1000
const T0 = Date.parse('2026-11-30T00:00:00Z')

/** A record obtained at T0 that WeChat expires `life` seconds later. */
const record = (lifeSeconds: number): TokenRecord => ({
  token: 't',
  generation: 1,
  obtainedAt: T0,
  wechatExpiresAt: T0 + lifeSeconds * S,
  fetchedBy: 'test',
})

const production = (kind: 'classic' | 'stable'): TimingRules => ({
  kind,
  leadMs: 600 * S,
  overlapMs: 300 * S,
  maxJitterMs: 30 * S,
})

describe('when a token is due, and how long a reader may use it (guarantees 2 and 3)', () => {
  // [kind, token life s, lead s, overlap s] → [planned refresh s after T0, safe until s after T0]
  const table: [TimingRules['kind'], number, number, number, number, number][] = [
    // Production classic: due 600 s before expiry; served until 300 s after that.
    ['classic', 7200, 600, 300, 6600, 6900],
    // A lead longer than half the life: never due in the first half.
    ['classic', 600, 600, 300, 300, 600],
    // WeChat's answer shorter than lead + overlap: served no longer than WeChat's expiry.
    ['classic', 700, 600, 300, 350, 650],
    // Lead > overlap as in production, short test lifetimes.
    ['classic', 20, 10, 5, 10, 15],
    // Stable: due at 80% of WeChat's renew window, served to its own expiry.
    ['stable', 7200, 600, 300, 6960, 7200],
    ['stable', 20, 10, 5, 16, 20],
  ]
  it.each(table)(
    '%s, life %i s, lead %i s, overlap %i s',
    (kind, life, lead, overlap, due, safe) => {
      const rules: TimingRules = { kind, leadMs: lead * S, overlapMs: overlap * S, maxJitterMs: 0 }
      expect((plannedRefreshAt(rules, record(life)) - T0) / S).toBe(due)
      expect((safeUntil(rules, record(life)) - T0) / S).toBe(safe)
      // Guarantee 3 for classic tokens: what a reader is told never outlives the planned refresh plus
      // WeChat's overlap, nor WeChat's own expiry.
      expect(safeUntil(rules, record(life))).toBeLessThanOrEqual(
        kind === 'classic' ? plannedRefreshAt(rules, record(life)) + overlap * S : T0 + life * S
      )
    }
  )

  it('the effective lead is what alerts compare with the time to expiry', () => {
    expect(effectiveLeadSeconds(production('classic'), record(7200))).toBe(600)
    expect(effectiveLeadSeconds(production('classic'), record(600))).toBe(300)
    expect(effectiveLeadSeconds(production('stable'), record(7200))).toBe(240)
    expect(effectiveLeadSeconds(production('classic'), null)).toBe(600)
    expect(effectiveLeadSeconds(production('stable'), null)).toBe(240)
  })
})

describe('jitter and retry delays', () => {
  it.each([
    // [kind, lead s, overlap s, maxJitter s] → bound s: a tenth of the margin, at most maxJitter
    ['classic', 600, 300, 30, 30],
    ['classic', 100, 300, 30, 10],
    ['stable', 600, 300, 30, 30],
    ['stable', 600, 100, 30, 10],
    ['classic', 600, 300, 0.2, 0.2],
  ] as const)('%s lead %i overlap %i cap %i → %i s', (kind, lead, overlap, cap, bound) => {
    expect(
      jitterBoundMs({ kind, leadMs: lead * S, overlapMs: overlap * S, maxJitterMs: cap * S })
    ).toBe(bound * S)
  })

  it.each([
    [300, 15],
    [100, 5],
    [10, 1],
    [1, 1],
  ])('overlap %i s → look again after %i s', (overlap, seconds) => {
    expect(retryDelayMs({ overlapMs: overlap * S })).toBe(seconds * S)
  })
})

describe('one back-off formula for the whole engine', () => {
  it.each([
    [1, 500],
    [2, 1000],
    [3, 2000],
    [4, 4000],
    [5, 4000],
    [0, 500],
  ])('attempt %i → %i ms (base 500, cap 4000)', (attempt, ms) => {
    expect(exponentialBackoffMs(500, attempt, 4000)).toBe(ms)
  })

  const tuning = { failureBackoffMs: 30_000, transientBackoffMs: 5_000, maxBackoffMs: 600_000 }
  it.each([
    // [errcode, transient, attempt] → ms
    [40125, false, 1, 30_000],
    [40125, false, 2, 60_000],
    [40164, false, 6, 600_000],
    [-1, false, 1, 30_000],
    [undefined, true, 1, 5_000],
    [undefined, true, 3, 20_000],
    [undefined, true, 20, 600_000],
    [45011, false, 1, 60_000],
    [45011, false, 5, 60_000],
    [89507, false, 1, 3600_000],
    [89506, false, 3, 86_400_000],
  ] as const)('errcode %s, transient %s, attempt %i → %i ms', (errcode, transient, attempt, ms) => {
    expect(failureBackoffMs({ errcode, transient }, attempt, tuning)).toBe(ms)
  })

  it('retries within a refresh pause between half and all of the back-off (equal jitter)', () => {
    const policy = { baseDelayMs: 500, maxDelayMs: 4000 }
    expect(retryPauseMs(1, policy, () => 0)).toBe(250)
    expect(retryPauseMs(1, policy, () => 1)).toBe(500)
    expect(retryPauseMs(3, policy, () => 0.5)).toBe(1500)
    expect(retryPauseMs(9, policy, () => 1)).toBe(4000)
  })
})
