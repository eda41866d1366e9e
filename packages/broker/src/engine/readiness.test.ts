import { describe, expect, it } from 'vitest'
import { assessReadiness } from './readiness.js'
import type { AppStatus } from './types.js'

const A = 'wx00000000000000e1'
const B = 'wx00000000000000e2'
const NOW = Date.parse('2026-11-30T12:00:00Z')

/** A quota block with the figures a test cares about. */
const quota = (used: number, limit: number, warn: boolean): AppStatus['quota'] => ({
  api: '/cgi-bin/stable_token',
  used,
  limit,
  warnRatio: 0.8,
  warn,
  exhausted: null,
  scheduledReserve: 0,
  reports: { used: 0, limit: 100, clientLimit: 20 },
  forceRefresh: null,
  wechat: null,
})

const app = (appid: string, over: Partial<AppStatus> = {}): AppStatus => ({
  appid,
  kind: 'stable',
  state: 'ok',
  generation: 3,
  obtainedAt: 0,
  expiresIn: 5000,
  wechatExpiresAt: 7_200_000,
  refreshLeadSeconds: 240,
  lastRefresh: null,
  lastError: null,
  nextAttemptAt: null,
  quota: quota(10, 2000, false),
  secret: 'ok',
  lastForeignRefresh: null,
  ...over,
})

const reasons = (view: Parameters<typeof assessReadiness>[0]) =>
  assessReadiness(view).degradations.map((d) => d.reason)

describe('assessReadiness (design §3.7)', () => {
  it('ready and nothing degraded when the store is up and every app has a token', () => {
    expect(
      assessReadiness({ phase: 'started', storeUp: true, now: NOW, apps: [app(A), app(B)] })
    ).toEqual({
      ready: true,
      storeUp: true,
      reasons: [],
      degradations: [],
    })
  })

  it('a store outage degrades but keeps the replica ready while every app has a token', () => {
    expect(assessReadiness({ phase: 'started', storeUp: false, now: NOW, apps: [app(A)] })).toEqual(
      {
        ready: true,
        storeUp: false,
        reasons: [],
        degradations: [
          { reason: 'store_unreachable', message: 'store unreachable', blocking: false },
        ],
      }
    )
  })

  it('an app without a token makes it not ready, naming the app', () => {
    const r = assessReadiness({
      phase: 'started',
      storeUp: false,
      now: NOW,
      apps: [app(A, { expiresIn: null }), app(B, { expiresIn: null, state: 'cold' })],
    })
    expect(r.ready).toBe(false)
    expect(r.reasons).toEqual([`${A}: no valid token`, `${B}: no valid token (cold)`])
    expect(r.degradations.map((d) => d.reason)).toEqual([
      'store_unreachable',
      `no_token:${A}`,
      `no_token:${B}`,
    ])
  })

  it('not ready before the engine has started', () => {
    const r = assessReadiness({ phase: 'new', storeUp: true, now: NOW, apps: [] })
    expect(r).toMatchObject({ ready: false, reasons: ['engine not started'] })
    expect(r.degradations.map((d) => d.reason)).toEqual(['not_started'])
  })

  it('a failing app and a tight quota degrade without making it unready', () => {
    const r = assessReadiness({
      phase: 'started',
      storeUp: true,
      now: NOW,
      apps: [
        app(A, {
          state: 'failing',
          lastError: { errcode: 40164, errmsg: 'invalid ip', at: 0 },
          quota: quota(1700, 2000, true),
        }),
        app(B, { quota: quota(2000, 2000, true) }),
      ],
    })
    expect(r.ready).toBe(true)
    expect(r.reasons).toEqual([])
    expect(r.degradations).toEqual([
      {
        reason: `app_failing:${A}`,
        message: `${A}: refreshes failing (errcode 40164)`,
        blocking: false,
      },
      {
        reason: `quota_warn:${A}`,
        message: `${A}: 1700 of 2000 token calls used today`,
        blocking: false,
      },
      {
        reason: `quota_exhausted:${B}`,
        message: `${B}: today's token quota is used up`,
        blocking: false,
      },
    ])
  })

  it('a rejected secret and a recent foreign refresh degrade without making it unready', () => {
    const r = assessReadiness({
      phase: 'started',
      storeUp: true,
      now: NOW,
      apps: [
        app(A, { secret: 'rejected', lastError: { errcode: 40125, errmsg: 'x', at: NOW } }),
        app(B, { lastForeignRefresh: { at: NOW - 60_000, evidence: 'count_drift' } }),
      ],
    })
    expect(r.ready).toBe(true)
    expect(r.degradations.map((d) => d.reason)).toEqual([
      `secret_rejected:${A}`,
      `foreign_refresh:${B}`,
    ])
    // Ten minutes on, the foreign refresh is history (it stays in /v1/apps).
    const later = assessReadiness({
      phase: 'started',
      storeUp: true,
      now: NOW + 11 * 60_000,
      apps: [app(B, { lastForeignRefresh: { at: NOW - 60_000, evidence: 'count_drift' } })],
    })
    expect(later.degradations).toEqual([])
  })

  it("WeChat's own daily limit (45009) counts as an exhausted quota", () => {
    expect(
      reasons({
        phase: 'started',
        storeUp: true,
        now: NOW,
        apps: [app(A, { state: 'quota_exhausted' })],
      })
    ).toEqual([`quota_exhausted:${A}`])
  })

  it('never puts an error message from WeChat into a reason (only the errcode)', () => {
    const r = assessReadiness({
      phase: 'started',
      storeUp: true,
      now: NOW,
      apps: [app(A, { state: 'failing', lastError: { errcode: -1, errmsg: 'secret?', at: 0 } })],
    })
    expect(JSON.stringify(r)).not.toContain('secret?')
  })
})
