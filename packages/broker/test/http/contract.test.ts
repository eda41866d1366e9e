import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parsePrometheus } from '@wxbroker/testkit'
import {
  APP1,
  APP2,
  KEYS,
  expectError,
  jsonInit,
  startHarness,
  type Harness,
} from '../support/harness.js'

// The HTTP contract of design §4 against the real engine (in-memory store) and the real simulator.

interface TokenJson {
  appid: string
  access_token: string
  expires_in: number
  expires_at: string
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/

let h: Harness
beforeAll(async () => {
  h = await startHarness({
    simApps: { [APP1]: { unionBound: true } },
    config: { http: { bodyLimitBytes: 1024 } },
  })
})
afterAll(async () => {
  await h.close()
})

async function token(appid = APP1): Promise<TokenJson> {
  const res = await h.fetch(`/v1/apps/${appid}/token`, { key: KEYS.all })
  expect(res.status).toBe(200)
  return (await res.json()) as TokenJson
}

describe('GET /v1/apps/{appid}/token', () => {
  it('returns the current token with a safe expires_in and an RFC 3339 expires_at', async () => {
    const res = await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.reader })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^application\/json/)
    const body = (await res.json()) as TokenJson
    expect(Object.keys(body).sort()).toEqual(['access_token', 'appid', 'expires_at', 'expires_in'])
    expect(body.appid).toBe(APP1)
    const current = await h.sim.admin.tokens(APP1, 'stable')
    expect(body.access_token).toBe(current.current)
    // A stable token renewed in normal mode stays valid to its own expiry at WeChat.
    expect(body.expires_in).toBeGreaterThan(7100)
    expect(body.expires_in).toBeLessThanOrEqual(7200)
    expect(body.expires_at).toMatch(RFC3339)
    const implied = (Date.parse(body.expires_at) - Date.now()) / 1000
    expect(Math.abs(implied - body.expires_in)).toBeLessThan(5)
  })

  it('serves classic tokens with expires_in ending at the planned rotation plus the overlap', async () => {
    const body = await token(APP2)
    expect((await h.sim.admin.tokens(APP2, 'classic')).current).toBe(body.access_token)
    // Replaced 600 s before expiry, retired by WeChat 300 s after that: safe for 7200 - 600 + 300.
    expect(body.expires_in).toBeGreaterThan(6800)
    expect(body.expires_in).toBeLessThanOrEqual(6900)
  })

  it('400 for a malformed appid', async () => {
    const body = await expectError(
      await h.fetch('/v1/apps/wxNOTANAPPID/token', { key: KEYS.all }),
      400,
      'bad_request'
    )
    expect(body.error.message).toContain('appid')
  })

  it('404 for an unknown appid (key allowed for every app)', async () => {
    await expectError(
      await h.fetch('/v1/apps/wx00000000000000ff/token', { key: KEYS.all }),
      404,
      'unknown_app'
    )
  })
})

describe('POST /v1/apps/{appid}/token/invalidate', () => {
  it('a report of an old token gets the current one without a refresh', async () => {
    const current = await token()
    const res = await h.fetch(
      `/v1/apps/${APP1}/token/invalidate`,
      jsonInit({ access_token: 'not-the-current-token', errcode: 40001 }, KEYS.invalidator)
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as TokenJson & { refreshed: boolean; reason: string }
    expect(body).toMatchObject({
      refreshed: false,
      reason: 'stale_report',
      appid: APP1,
      access_token: current.access_token,
    })
    expect(body.expires_at).toMatch(RFC3339)
  })

  it('a report of the current token refreshes once, then reports hit the cooldown', async () => {
    const before = await token()
    const res = await h.fetch(
      `/v1/apps/${APP1}/token/invalidate`,
      jsonInit({ access_token: before.access_token, errcode: 40001 }, KEYS.all)
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as TokenJson & { refreshed: boolean; reason: string }
    expect(body.refreshed).toBe(true)
    expect(body.reason).toBe('refreshed')
    expect(body.access_token).not.toBe(before.access_token)
    expect((await h.sim.admin.tokens(APP1, 'stable')).current).toBe(body.access_token)

    const again = await h.fetch(
      `/v1/apps/${APP1}/token/invalidate`,
      jsonInit({ access_token: body.access_token, errcode: 40001 }, KEYS.all)
    )
    expect(again.status).toBe(200)
    expect(await again.json()).toMatchObject({
      refreshed: false,
      reason: 'cooldown',
      access_token: body.access_token,
    })
  })

  it('400 when access_token is missing, 400 for malformed JSON, 413 for a large body', async () => {
    const missing = await expectError(
      await h.fetch(`/v1/apps/${APP1}/token/invalidate`, jsonInit({ errcode: 40001 }, KEYS.all)),
      400,
      'bad_request'
    )
    expect(missing.error.message).toContain('access_token')
    await expectError(
      await h.fetch(`/v1/apps/${APP1}/token/invalidate`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"access_token": ',
        key: KEYS.all,
      }),
      400,
      'invalid_json'
    )
    await expectError(
      await h.fetch(
        `/v1/apps/${APP1}/token/invalidate`,
        jsonInit({ access_token: 'x'.repeat(2000) }, KEYS.all)
      ),
      413,
      'payload_too_large'
    )
  })
})

describe('POST /v1/apps/{appid}/jscode2session', () => {
  const login = (code: string, key: string = KEYS.login) =>
    h.fetch(`/v1/apps/${APP1}/jscode2session`, jsonInit({ js_code: code }, key))

  it('returns openid, session_key and unionid (when WeChat sends it)', async () => {
    await h.sim.admin.registerLoginCode({
      appid: APP1,
      code: 'c-ok',
      openid: 'o-user-1',
      unionid: 'u-user-1',
      sessionKey: 'c2Vzc2lvbi1rZXktMTIzNA==',
    })
    const res = await login('c-ok')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      openid: 'o-user-1',
      session_key: 'c2Vzc2lvbi1rZXktMTIzNA==',
      unionid: 'u-user-1',
    })
  })

  it('omits unionid when WeChat does not send it', async () => {
    await h.sim.admin.registerLoginCode({ appid: APP2, code: 'c-app2', openid: 'o-user-2' })
    const res = await h.fetch(
      `/v1/apps/${APP2}/jscode2session`,
      jsonInit({ js_code: 'c-app2' }, KEYS.all)
    )
    expect(res.status).toBe(200)
    const body = (await res.json()) as Record<string, unknown>
    expect(Object.keys(body).sort()).toEqual(['openid', 'session_key'])
  })

  it('maps 40029 → 400 invalid_code', async () => {
    const body = await expectError(await login('never-registered'), 400, 'invalid_code')
    expect(body.error.errcode).toBe(40029)
  })

  it('maps 40163 → 409 code_used', async () => {
    await h.sim.admin.registerLoginCode({ appid: APP1, code: 'c-once', openid: 'o-user-3' })
    expect((await login('c-once')).status).toBe(200)
    const body = await expectError(await login('c-once'), 409, 'code_used')
    expect(body.error.errcode).toBe(40163)
  })

  it('maps 40226 → 403 code_blocked', async () => {
    await h.sim.admin.registerLoginCode({
      appid: APP1,
      code: 'c-blocked',
      openid: 'o-user-4',
      blocked: true,
    })
    const body = await expectError(await login('c-blocked'), 403, 'code_blocked')
    expect(body.error.errcode).toBe(40226)
  })

  it('maps 45011 → 429 rate_limited with Retry-After', async () => {
    await h.sim.admin.registerLoginCode({ appid: APP1, code: 'c-limited', openid: 'o-user-5' })
    await h.sim.admin.addFault({ endpoint: '/sns/jscode2session', errcode: 45011, times: 1 })
    const res = await login('c-limited')
    expect(res.headers.get('retry-after')).toBe('60')
    const body = await expectError(res, 429, 'rate_limited')
    expect(body.error.errcode).toBe(45011)
  })

  it('maps -1 → 502 wechat_error with errcode, errmsg and rid', async () => {
    await h.sim.admin.registerLoginCode({ appid: APP1, code: 'c-busy', openid: 'o-user-6' })
    await h.sim.admin.addFault({ endpoint: '/sns/jscode2session', errcode: -1, times: -1 })
    try {
      const body = await expectError(await login('c-busy'), 502, 'wechat_error')
      expect(body.error.errcode).toBe(-1)
      expect(typeof body.error.errmsg).toBe('string')
      expect(body.error.rid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/)
    } finally {
      await h.sim.admin.clearFaults()
    }
  })

  it('400 when js_code is missing', async () => {
    const body = await expectError(
      await h.fetch(`/v1/apps/${APP1}/jscode2session`, jsonInit({}, KEYS.login)),
      400,
      'bad_request'
    )
    expect(body.error.message).toContain('js_code')
  })
})

describe('GET /v1/apps and POST /v1/apps/{appid}/token/refresh (admin)', () => {
  it('lists every app with kind, generation, age, expiry, last refresh, last error and quota', async () => {
    await token(APP1)
    await token(APP2)
    const res = await h.fetch('/v1/apps', { key: KEYS.admin })
    expect(res.status).toBe(200)
    const { apps } = (await res.json()) as { apps: Record<string, unknown>[] }
    expect(apps.map((a) => a.appid)).toEqual([APP1, APP2])
    const app1 = apps[0] as Record<string, unknown>
    expect(Object.keys(app1).sort()).toEqual(
      [
        'age_seconds',
        'appid',
        'expires_in',
        'generation',
        'last_error',
        'last_foreign_refresh',
        'last_refresh',
        'quota',
        'secret',
        'state',
        'token_kind',
      ].sort()
    )
    expect(app1).toMatchObject({ token_kind: 'stable', state: 'ok', last_error: null })
    expect(app1.generation).toEqual(expect.any(Number))
    expect(app1.quota).toMatchObject({ limit: 2000, warn: false })
    expect((app1.last_refresh as { at: string }).at).toMatch(RFC3339)
    expect(apps[1]).toMatchObject({ token_kind: 'classic' })
    // WeChat's own figure (reconciled after the refresh) stands beside the broker's count.
    await expect
      .poll(async () => {
        const body = (await (await h.fetch('/v1/apps', { key: KEYS.admin })).json()) as {
          apps: { quota: { wechat: { used: number; limit: number; at: string } | null } }[]
        }
        const wechat = body.apps[1]?.quota.wechat
        return wechat && wechat.used >= 1 && wechat.limit === 2000 && RFC3339.test(wechat.at)
      })
      .toBe(true)
  })

  it('an admin key limited to one app sees only that app', async () => {
    const res = await h.fetch('/v1/apps', { key: KEYS.app1Admin })
    const { apps } = (await res.json()) as { apps: { appid: string }[] }
    expect(apps.map((a) => a.appid)).toEqual([APP1])
  })

  it('forces a refresh, then guards the next one (429 cooldown)', async () => {
    const before = await token(APP2)
    const res = await h.fetch(`/v1/apps/${APP2}/token/refresh`, { method: 'POST', key: KEYS.admin })
    expect(res.status).toBe(200)
    const body = (await res.json()) as TokenJson
    expect(body.appid).toBe(APP2)
    expect(body.access_token).not.toBe(before.access_token)
    expect(body.expires_at).toMatch(RFC3339)
    const again = await h.fetch(`/v1/apps/${APP2}/token/refresh`, {
      method: 'POST',
      key: KEYS.admin,
    })
    await expectError(again, 429, 'cooldown')
  })
})

describe('service routes', () => {
  it('GET /healthz', async () => {
    const res = await h.fetch('/healthz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  it('GET /readyz is 200 when the store is up and every app has a token', async () => {
    await token(APP1)
    await token(APP2)
    const res = await h.fetch('/readyz')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ ready: true, store_up: true, reasons: [], degraded: [] })
    const strict = await h.fetch('/readyz?strict=true')
    expect(strict.status).toBe(200)
    expect((await h.fetch('/readyz?strict=false')).status).toBe(200)
  })

  it('GET /readyz?strict=yes is 400 naming the parameter', async () => {
    const body = await expectError(await h.fetch('/readyz?strict=yes'), 400, 'bad_request')
    expect(body.error.message).toContain('strict must be true or false')
  })

  it('GET /metrics is Prometheus text', async () => {
    const res = await h.fetch('/metrics')
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    expect(await res.text()).toMatch(/^# HELP wxbroker_/m)
  })

  it('GET /openapi.json documents every route, generated from the request schemas', async () => {
    const res = await h.fetch('/openapi.json')
    expect(res.status).toBe(200)
    const doc = (await res.json()) as {
      openapi: string
      paths: Record<
        string,
        Record<
          string,
          { parameters?: { name: string; schema: { pattern?: string } }[]; requestBody?: unknown }
        >
      >
      components: { securitySchemes: Record<string, unknown> }
    }
    expect(doc.openapi).toMatch(/^3\./)
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/healthz',
        '/metrics',
        '/readyz',
        '/v1/apps',
        '/v1/apps/{appid}/jscode2session',
        '/v1/apps/{appid}/token',
        '/v1/apps/{appid}/token/invalidate',
        '/v1/apps/{appid}/token/refresh',
      ].sort()
    )
    const param = doc.paths['/v1/apps/{appid}/token']?.get?.parameters?.[0]
    expect(param?.name).toBe('appid')
    expect(param?.schema.pattern).toBe('^wx[0-9a-f]{16}$')
    expect(doc.paths['/v1/apps/{appid}/jscode2session']?.post?.requestBody).toBeDefined()
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' })
  })

  it('every /v1 answer, success or error, says Cache-Control: no-store; others do not', async () => {
    const v1 = [
      await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.reader }),
      await h.fetch(`/v1/apps/${APP1}/token`),
      await h.fetch(`/v1/apps/${APP2}/token`, { key: KEYS.reader }),
      await h.fetch('/v1/apps', { key: KEYS.admin }),
      await h.fetch(`/v1/apps/${APP1}/jscode2session`, jsonInit({ js_code: 'nope' }, KEYS.login)),
    ]
    expect(v1.map((r) => r.status)).toEqual([200, 401, 403, 200, 400])
    for (const r of v1) expect(r.headers.get('cache-control')).toBe('no-store')
    expect((await h.fetch('/healthz')).headers.get('cache-control')).toBeNull()
  })

  it('404 envelope for an unknown route', async () => {
    await expectError(await h.fetch('/v2/nothing'), 404, 'not_found')
  })

  it('echoes a well-formed X-Request-Id and generates one otherwise', async () => {
    const echoed = await h.fetch('/v2/nothing', { headers: { 'x-request-id': 'req-abc.123' } })
    expect(echoed.headers.get('x-request-id')).toBe('req-abc.123')
    expect(((await echoed.json()) as { error: { request_id: string } }).error.request_id).toBe(
      'req-abc.123'
    )
    const generated = await h.fetch('/healthz', {
      headers: { 'x-request-id': 'bad id with spaces' },
    })
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })
})

describe('guarded and unavailable tokens', () => {
  let g: Harness
  beforeAll(async () => {
    g = await startHarness({
      apps: { [APP1]: { dailyQuota: 1 }, [APP2]: { secret: 'wrong-secret-for-app2' } },
    })
  })
  afterAll(async () => {
    await g.close()
  })

  it('429 quota_exhausted once the daily quota is used, with Retry-After', async () => {
    expect((await g.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.all })).status).toBe(200)
    const res = await g.fetch(`/v1/apps/${APP1}/token/refresh`, { method: 'POST', key: KEYS.all })
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    await expectError(res, 429, 'quota_exhausted')
  })

  it('502 wechat_error with errcode when WeChat refuses the token (wrong secret)', async () => {
    const res = await g.fetch(`/v1/apps/${APP2}/token`, { key: KEYS.all })
    const body = await expectError(res, 502, 'wechat_error')
    expect(body.error.errcode).toBe(40125)
    expect(body.error.rid).toEqual(expect.any(String))
  })

  it('/readyz is 503 with reasons while an app has no token; degraded names every condition', async () => {
    const res = await g.fetch('/readyz')
    expect(res.status).toBe(503)
    expect(await res.json()).toEqual({
      ready: false,
      store_up: true,
      reasons: [`${APP2}: no valid token (failing)`],
      // APP1 still serves its token with the quota used up: degraded, not a reason to be unready.
      degraded: [
        `quota_exhausted:${APP1}`,
        `no_token:${APP2}`,
        `app_failing:${APP2}`,
        `secret_rejected:${APP2}`,
      ],
    })
    const strict = (await (await g.fetch('/readyz?strict=true')).json()) as { reasons: string[] }
    expect(strict.reasons).toEqual([
      `${APP1}: today's token quota is used up`,
      `${APP2}: no valid token (failing)`,
      `${APP2}: refreshes failing (errcode 40125)`,
      `${APP2}: WeChat refuses this replica's token requests (errcode 40125); it serves the shared token but cannot refresh it`,
    ])
    const m = parsePrometheus(await (await g.fetch('/metrics')).text())
    const gauge = m.samples.filter((s) => s.name === 'wxbroker_degraded')
    expect(gauge.map((s) => [s.labels.reason, s.value])).toEqual([
      [`quota_exhausted:${APP1}`, 1],
      [`no_token:${APP2}`, 1],
      [`app_failing:${APP2}`, 1],
      [`secret_rejected:${APP2}`, 1],
    ])
  })

  it('/status shows what is degraded, as /readyz does', async () => {
    const html = await (await g.fetch('/status')).text()
    expect(html).toContain('Not ready: some app cannot be served')
    expect(html).toContain(`data-reason="no_token:${APP2}"`)
    expect(html).toContain(`data-reason="quota_exhausted:${APP1}"`)
  })
})

describe('no token available', () => {
  let u: Harness
  beforeAll(async () => {
    u = await startHarness({
      beforeBroker: (sim) =>
        sim.admin.addFault({ endpoint: '/cgi-bin/stable_token', errcode: -1, times: -1 }),
    })
  })
  afterAll(async () => {
    await u.close()
  })

  it('503 token_unavailable with Retry-After while WeChat keeps failing transiently', async () => {
    const res = await u.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.all })
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    await expectError(res, 503, 'token_unavailable')
  })
})

describe('logs and shutdown', () => {
  it('writes one access line per request with route template, status, latency, client and request id', async () => {
    const res = await h.fetch(`/v1/apps/${APP1}/token`, {
      key: KEYS.reader,
      headers: { 'x-request-id': 'access-line-1' },
    })
    expect(res.status).toBe(200)
    // The access line is written after the response is sent.
    await new Promise((r) => setTimeout(r, 20))
    const lines = h.logs
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l.request_id === 'access-line-1')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatchObject({
      msg: 'request',
      route: '/v1/apps/{appid}/token',
      method: 'GET',
      status: 200,
      client: 'reader',
    })
    expect(typeof lines[0]?.ms).toBe('number')
  })

  it('/readyz answers 503 shutting_down as soon as shutdown begins', async () => {
    const s = await startHarness()
    const stopping = s.broker.shutdown()
    const res = await s.broker.app.request('/readyz')
    expect(res.status).toBe(503)
    expect(((await res.json()) as { reasons: string[] }).reasons).toContain('shutting_down')
    await stopping
    await s.sim.close()
  })
})
