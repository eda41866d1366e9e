import { describe, expect, it } from 'vitest'
import { assessReadiness } from './readiness.js'
import type { AppStatus } from './types.js'

const A = 'wx00000000000000e1'
const B = 'wx00000000000000e2'

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
  quota: { used: 10, limit: 2000, warn: false, wechat: null },
  ...over,
})

const reasons = (view: Parameters<typeof assessReadiness>[0]) =>
  assessReadiness(view).degradations.map((d) => d.reason)

describe('assessReadiness (design §3.7)', () => {
  it('ready and nothing degraded when the store is up and every app has a token', () => {
    expect(assessReadiness({ started: true, storeUp: true, apps: [app(A), app(B)] })).toEqual({
      ready: true,
      storeUp: true,
      reasons: [],
      degradations: [],
    })
  })

  it('a store outage degrades but keeps the replica ready while every app has a token', () => {
    expect(assessReadiness({ started: true, storeUp: false, apps: [app(A)] })).toEqual({
      ready: true,
      storeUp: false,
      reasons: [],
      degradations: [
        { reason: 'store_unreachable', message: 'store unreachable', blocking: false },
      ],
    })
  })

  it('an app without a token makes it not ready, naming the app', () => {
    const r = assessReadiness({
      started: true,
      storeUp: false,
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
    const r = assessReadiness({ started: false, storeUp: true, apps: [] })
    expect(r).toMatchObject({ ready: false, reasons: ['engine not started'] })
    expect(r.degradations.map((d) => d.reason)).toEqual(['not_started'])
  })

  it('a failing app and a tight quota degrade without making it unready', () => {
    const r = assessReadiness({
      started: true,
      storeUp: true,
      apps: [
        app(A, {
          state: 'failing',
          lastError: { errcode: 40164, errmsg: 'invalid ip', at: 0 },
          quota: { used: 1700, limit: 2000, warn: true, wechat: null },
        }),
        app(B, { quota: { used: 2000, limit: 2000, warn: true, wechat: null } }),
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

  it("WeChat's own daily limit (45009) counts as an exhausted quota", () => {
    expect(
      reasons({ started: true, storeUp: true, apps: [app(A, { state: 'quota_exhausted' })] })
    ).toEqual([`quota_exhausted:${A}`])
  })

  it('never puts an error message from WeChat into a reason (only the errcode)', () => {
    const r = assessReadiness({
      started: true,
      storeUp: true,
      apps: [app(A, { state: 'failing', lastError: { errcode: -1, errmsg: 'secret?', at: 0 } })],
    })
    expect(JSON.stringify(r)).not.toContain('secret?')
  })
})
