import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APP1, APP2, KEYS, jsonInit, startHarness, type Harness } from '../support/harness.js'
import { parsePrometheus, type Exposition } from '@wxbroker/testkit'

// After a scripted run, /metrics (parsed) shows exactly the expected counts.

let h: Harness
let m: Exposition
let simCalls: Record<string, number>

beforeAll(async () => {
  h = await startHarness()
  await h.sim.admin.registerLoginCode({ appid: APP1, code: 'metrics-code', openid: 'o-metrics' })
  for (let i = 0; i < 3; i++)
    expect((await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.reader })).status).toBe(200)
  expect((await h.fetch(`/v1/apps/${APP2}/token`, { key: KEYS.all })).status).toBe(200)
  expect((await h.fetch(`/v1/apps/${APP1}/token`)).status).toBe(401)
  expect((await h.fetch(`/v1/apps/${APP2}/token`, { key: KEYS.reader })).status).toBe(403)
  const { access_token } = (await (
    await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.all })
  ).json()) as { access_token: string }
  expect(
    (
      await h.fetch(
        `/v1/apps/${APP1}/token/invalidate`,
        jsonInit({ access_token, errcode: 40001 }, KEYS.invalidator)
      )
    ).status
  ).toBe(200)
  expect(
    (
      await h.fetch(
        `/v1/apps/${APP1}/token/invalidate`,
        jsonInit({ access_token: 'old', errcode: 40001 }, KEYS.invalidator)
      )
    ).status
  ).toBe(200)
  expect(
    (
      await h.fetch(
        `/v1/apps/${APP1}/jscode2session`,
        jsonInit({ js_code: 'metrics-code' }, KEYS.login)
      )
    ).status
  ).toBe(200)
  expect(
    (
      await h.fetch(
        `/v1/apps/${APP1}/jscode2session`,
        jsonInit({ js_code: 'metrics-code' }, KEYS.login)
      )
    ).status
  ).toBe(409)
  expect((await h.fetch('/nowhere/42')).status).toBe(404)
  const res = await h.fetch('/metrics')
  m = parsePrometheus(await res.text())
  simCalls = await h.sim.admin.calls()
})
afterAll(async () => {
  await h.close()
})

const TOKEN_ROUTE = '/v1/apps/{appid}/token'

describe('/metrics after a scripted run', () => {
  it('counts HTTP requests by route template, method and status', () => {
    const http = (route: string, method: string, status: string) =>
      m.get('wxbroker_http_requests_total', { route, method, status })
    expect(http(TOKEN_ROUTE, 'GET', '200')).toBe(5)
    expect(http(TOKEN_ROUTE, 'GET', '401')).toBe(1)
    expect(http(TOKEN_ROUTE, 'GET', '403')).toBe(1)
    expect(http('/v1/apps/{appid}/token/invalidate', 'POST', '200')).toBe(2)
    expect(http('/v1/apps/{appid}/jscode2session', 'POST', '200')).toBe(1)
    expect(http('/v1/apps/{appid}/jscode2session', 'POST', '409')).toBe(1)
    expect(http('unmatched', 'GET', '404')).toBe(1)
    expect(m.get('wxbroker_http_request_duration_seconds_count', { route: TOKEN_ROUTE })).toBe(7)
    // No raw paths as labels.
    expect(m.samples.some((s) => s.labels.route?.includes('wx00000000000000'))).toBe(false)
  })

  it('counts refreshes, quota, WeChat calls and invalidations from engine events', () => {
    expect(
      m.get('wxbroker_token_refresh_total', {
        appid: APP1,
        kind: 'stable',
        reason: 'cold_start',
        result: 'success',
      })
    ).toBe(1)
    expect(
      m.get('wxbroker_token_refresh_total', {
        appid: APP1,
        kind: 'stable',
        reason: 'invalidated',
        result: 'success',
      })
    ).toBe(1)
    expect(
      m.get('wxbroker_token_refresh_total', {
        appid: APP2,
        kind: 'classic',
        reason: 'cold_start',
        result: 'success',
      })
    ).toBe(1)
    expect(m.get('wxbroker_token_refresh_duration_seconds_count')).toBe(3)
    // A reported stable token is asked for in normal mode first; WeChat hands back the same one, so
    // the engine forces: two upstream calls for that refresh, both counted against the quota.
    expect(m.get('wxbroker_quota_used', { appid: APP1, api: '/cgi-bin/stable_token' })).toBe(3)
    expect(m.get('wxbroker_quota_used', { appid: APP2, api: '/cgi-bin/token' })).toBe(1)
    // The simulator's own counts agree (APP1 is the only stable app, APP2 the only classic one).
    expect(simCalls['/cgi-bin/stable_token']).toBe(3)
    expect(simCalls['/cgi-bin/token']).toBe(1)
    expect(m.get('wxbroker_quota_limit', { appid: APP1, api: '/cgi-bin/stable_token' })).toBe(2000)
    expect(m.get('wxbroker_quota_warn_ratio', { appid: APP1 })).toBe(0.8)
    expect(
      m.get('wxbroker_wechat_requests_total', { endpoint: '/cgi-bin/stable_token', errcode: '0' })
    ).toBe(3)
    expect(
      m.get('wxbroker_wechat_requests_total', { endpoint: '/cgi-bin/token', errcode: '0' })
    ).toBe(1)
    expect(
      m.get('wxbroker_wechat_requests_total', { endpoint: '/sns/jscode2session', errcode: '0' })
    ).toBe(1)
    expect(
      m.get('wxbroker_wechat_requests_total', { endpoint: '/sns/jscode2session', errcode: '40163' })
    ).toBe(1)
    expect(m.get('wxbroker_invalidations_total', { appid: APP1, result: 'refreshed' })).toBe(1)
    expect(m.get('wxbroker_invalidations_total', { appid: APP1, result: 'stale_report' })).toBe(1)
    expect(m.get('wxbroker_lock_acquire_total', { result: 'acquired' })).toBeGreaterThanOrEqual(3)
  })

  it('reads token and app gauges at scrape time', () => {
    expect(m.get('wxbroker_token_generation', { appid: APP1, kind: 'stable' })).toBe(2)
    const expiresIn =
      m.get('wxbroker_token_expires_in_seconds', { appid: APP1, kind: 'stable' }) ?? 0
    expect(expiresIn).toBeGreaterThan(7100)
    expect(expiresIn).toBeLessThanOrEqual(7200)
    // The effective lead the engine works to: configured for classic tokens; inside WeChat's own
    // pre-rotation window for stable ones.
    expect(m.get('wxbroker_token_refresh_lead_seconds', { appid: APP2, kind: 'classic' })).toBe(600)
    const stableLead = h.broker.engine.status().find((s) => s.appid === APP1)?.refreshLeadSeconds
    expect(m.get('wxbroker_token_refresh_lead_seconds', { appid: APP1, kind: 'stable' })).toBe(
      stableLead
    )
    expect(m.get('wxbroker_app_failing', { appid: APP1, kind: 'stable' })).toBe(0)
    expect(m.get('wxbroker_last_wechat_errcode', { appid: APP1, kind: 'stable' })).toBe(0)
    expect(m.get('wxbroker_store_up')).toBe(1)
    // Nothing degraded: the family is declared, with no series.
    expect(m.samples.filter((s) => s.name === 'wxbroker_degraded')).toEqual([])
  })

  it('counts authorized requests per client, app and scope', () => {
    expect(
      m.get('wxbroker_client_requests_total', {
        client: 'reader',
        appid: APP1,
        scope: 'token:read',
      })
    ).toBe(3)
    expect(
      m.get('wxbroker_client_requests_total', {
        client: 'invalidator',
        appid: APP1,
        scope: 'token:invalidate',
      })
    ).toBe(2)
    expect(
      m.get('wxbroker_client_requests_total', { client: 'login', appid: APP1, scope: 'login' })
    ).toBe(2)
    // Denied requests are not counted as the client's use of an app.
    expect(
      m.get('wxbroker_client_requests_total', {
        client: 'reader',
        appid: APP2,
        scope: 'token:read',
      })
    ).toBeUndefined()
  })

  it('exports every series of design §7, the alerting extras and default process metrics', () => {
    for (const name of [
      'wxbroker_token_refresh_total',
      'wxbroker_token_refresh_duration_seconds',
      'wxbroker_token_expires_in_seconds',
      'wxbroker_token_generation',
      'wxbroker_quota_used',
      'wxbroker_quota_limit',
      'wxbroker_wechat_requests_total',
      'wxbroker_wechat_request_duration_seconds',
      'wxbroker_invalidations_total',
      'wxbroker_lock_acquire_total',
      'wxbroker_store_up',
      'wxbroker_http_requests_total',
      'wxbroker_http_request_duration_seconds',
      'wxbroker_client_requests_total',
      'wxbroker_token_refresh_lead_seconds',
      'wxbroker_quota_warn_ratio',
      'wxbroker_quota_wechat_used',
      'wxbroker_quota_wechat_limit',
      'wxbroker_app_failing',
      'wxbroker_last_wechat_errcode',
      'wxbroker_degraded',
      'process_resident_memory_bytes',
    ]) {
      expect(m.families.has(name), name).toBe(true)
    }
  })
})
