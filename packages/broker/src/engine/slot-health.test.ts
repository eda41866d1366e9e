import { describe, expect, it } from 'vitest'
import { SlotOutcome, type SlotHealth } from './slot-health.js'

// A slot's outcomes without a store, a simulator or a clock: which state a token or another
// replica's outcome leaves, and the error a reader gets while there is no token.

const APPID = 'wx0000000000000001'
const NOW = 1_800_000_000_000

function health(at: number, overrides: Partial<SlotHealth> = {}): SlotHealth {
  return {
    at,
    state: 'failing',
    lastRefresh: null,
    lastError: { errcode: 40164, errmsg: 'invalid ip', rid: 'r-1', at },
    nextAttemptAt: at + 30_000,
    lastForeignRefresh: null,
    ...overrides,
  }
}

describe('SlotOutcome', () => {
  it('a token makes a cold or failing app ok and ends the back-off; quota_exhausted stays', () => {
    for (const [from, to] of [
      ['cold', 'ok'],
      ['failing', 'ok'],
      ['ok', 'ok'],
      ['quota_exhausted', 'quota_exhausted'],
    ] as const) {
      const o = new SlotOutcome()
      Object.assign(o, { state: from, failures: 3, retryAt: NOW, nextAttemptAt: NOW })
      o.tokenAdopted()
      expect([o.state, o.failures, o.retryAt, o.nextAttemptAt]).toEqual([to, 0, null, null])
    }
  })

  it('takes only a newer outcome from another replica, and a cold replica stays cold', () => {
    const o = new SlotOutcome()
    o.state = 'ok'
    o.snapshot(NOW)
    o.adopt(health(NOW - 1))
    expect(o.state).toBe('ok')
    o.adopt(health(NOW + 1))
    expect(o.state).toBe('failing')
    expect(o.lastError?.errcode).toBe(40164)
    expect(o.nextAttemptAt).toBe(NOW + 30_001)
    const cold = new SlotOutcome()
    cold.adopt(health(NOW))
    expect(cold.state).toBe('cold')
    expect(cold.lastError?.rid).toBe('r-1')
  })

  it('the error a reader gets: WeChat’s words when WeChat refused, the quota that ran out, a retry hint of at least 1 s', () => {
    const o = new SlotOutcome()
    expect(o.unavailable(APPID, NOW)).toMatchObject({
      code: 'token_unavailable',
      retryAfterSeconds: 1,
    })
    o.lastError = { errcode: -1, errmsg: 'WeChat could not be reached (timeout)', at: NOW }
    o.nextAttemptAt = NOW + 29_500
    expect(o.unavailable(APPID, NOW)).toMatchObject({
      code: 'token_unavailable',
      retryAfterSeconds: 30,
    })
    o.lastError = { errcode: 40013, errmsg: 'invalid appid', rid: 'r-2', at: NOW }
    const refused = o.unavailable(APPID, NOW)
    expect(refused).toMatchObject({
      code: 'wechat_error',
      wechat: { errcode: 40013, errmsg: 'invalid appid', rid: 'r-2' },
    })
    o.state = 'quota_exhausted'
    o.exhaustedBy = 'daily_quota'
    expect(o.unavailable(APPID, NOW)).toMatchObject({
      code: 'quota_exhausted',
      limit: 'daily_quota',
    })
    expect(o.unavailable(APPID, NOW).wechat).toBeUndefined()
    o.exhaustedBy = 'wechat_daily_quota'
    o.lastError = { errcode: 45009, errmsg: 'reach max api daily quota limit', rid: 'r-3', at: NOW }
    expect(o.unavailable(APPID, NOW)).toMatchObject({
      code: 'quota_exhausted',
      limit: 'wechat_daily_quota',
      wechat: { errcode: 45009, rid: 'r-3' },
    })
  })
})
