import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  APP1,
  APP2,
  KEYS,
  expectError,
  jsonInit,
  startHarness,
  type Harness,
} from '../support/harness.js'

// The auth matrix: no key, unknown key, key for another app, missing scope, admin-only routes.
// Errors never name other clients or apps.

let h: Harness
beforeAll(async () => {
  h = await startHarness()
  await h.sim.admin.registerLoginCode({ appid: APP1, code: 'auth-code', openid: 'o-auth' })
})
afterAll(async () => {
  await h.close()
})

type Call = {
  name: string
  path: string
  init: (key?: string) => RequestInit & { key?: string }
  scope: string
}
const get = (key?: string) => (key === undefined ? {} : { key })
const post = (key?: string) => ({ method: 'POST', ...(key === undefined ? {} : { key }) })

const CALLS: Call[] = [
  { name: 'token read', path: `/v1/apps/${APP1}/token`, init: get, scope: 'token:read' },
  {
    name: 'invalidate',
    path: `/v1/apps/${APP1}/token/invalidate`,
    init: (key) => jsonInit({ access_token: 'stale-token' }, key),
    scope: 'token:invalidate',
  },
  {
    name: 'login',
    path: `/v1/apps/${APP1}/jscode2session`,
    init: (key) => jsonInit({ js_code: 'x' }, key),
    scope: 'login',
  },
  { name: 'app list', path: '/v1/apps', init: get, scope: 'admin' },
  { name: 'forced refresh', path: `/v1/apps/${APP1}/token/refresh`, init: post, scope: 'admin' },
]

/** Which of the harness's keys hold which scope for APP1. */
const ALLOWED: Record<string, string[]> = {
  'token:read': ['reader', 'all'],
  'token:invalidate': ['invalidator', 'all'],
  login: ['login', 'all'],
  admin: ['admin', 'all', 'app1Admin'],
}

describe.each(CALLS)('$name', (call) => {
  it('401 without a key', async () => {
    const body = await expectError(await h.fetch(call.path, call.init()), 401, 'unauthorized')
    expect(body.error.message).toContain('missing bearer key')
  })

  it('401 with an unknown key, and with a malformed Authorization header', async () => {
    await expectError(
      await h.fetch(call.path, call.init('not-a-configured-key-000000')),
      401,
      'unauthorized'
    )
    const res = await h.fetch(call.path, {
      ...call.init(),
      headers: { ...call.init().headers, authorization: `Basic ${KEYS.all}` },
    })
    await expectError(res, 401, 'unauthorized')
  })

  it('403 for every key lacking the scope', async () => {
    for (const [name, key] of Object.entries(KEYS)) {
      if (ALLOWED[call.scope]?.includes(name)) continue
      const body = await expectError(await h.fetch(call.path, call.init(key)), 403, 'forbidden')
      expect(body.error.message).not.toMatch(
        /reader|invalidator|other-app|app1-admin|wx00000000000000a2/
      )
    }
  })

  it('passes auth for every key holding the scope', async () => {
    for (const name of ALLOWED[call.scope] ?? []) {
      const res = await h.fetch(call.path, call.init(KEYS[name as keyof typeof KEYS]))
      expect([401, 403]).not.toContain(res.status)
    }
  })
})

describe('app restrictions', () => {
  it('403, not 404, for a key used on an app it is not allowed (existing or not)', async () => {
    const existing = await expectError(
      await h.fetch(`/v1/apps/${APP2}/token`, { key: KEYS.reader }),
      403,
      'forbidden'
    )
    const missing = await expectError(
      await h.fetch('/v1/apps/wx00000000000000ff/token', { key: KEYS.reader }),
      403,
      'forbidden'
    )
    // The two answers are indistinguishable apart from the request id.
    expect(existing.error.message).toBe(missing.error.message)
  })

  it('a key scoped to another app cannot read this one but can read its own', async () => {
    await expectError(
      await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.otherApp }),
      403,
      'forbidden'
    )
    expect((await h.fetch(`/v1/apps/${APP2}/token`, { key: KEYS.otherApp })).status).toBe(200)
  })

  it('auth is checked before input validation: no key and a bad appid is still 401', async () => {
    await expectError(await h.fetch('/v1/apps/not-an-appid/token'), 401, 'unauthorized')
  })

  it('public routes need no key', async () => {
    for (const path of ['/healthz', '/readyz', '/metrics', '/openapi.json', '/status']) {
      const res = await h.fetch(path)
      expect(res.status, path).not.toBe(401)
    }
  })
})

describe('protected /metrics and /status', () => {
  let p: Harness
  const METRICS_KEY = 'metrics-scrape-key-0000000000000'
  beforeAll(async () => {
    p = await startHarness({
      config: { metrics: { key: METRICS_KEY }, statusPage: { enabled: true, requireAdmin: true } },
    })
  })
  afterAll(async () => {
    await p.close()
  })

  it('/metrics needs its own bearer key when configured', async () => {
    await expectError(await p.fetch('/metrics'), 401, 'unauthorized')
    await expectError(await p.fetch('/metrics', { key: KEYS.admin }), 401, 'unauthorized')
    expect((await p.fetch('/metrics', { key: METRICS_KEY })).status).toBe(200)
  })

  it('/status behind the admin key when requireAdmin', async () => {
    // Without a bearer header a browser gets the sign-in form (test/http/status-login.test.ts).
    const form = await p.fetch('/status')
    expect(form.status).toBe(401)
    expect(await form.text()).toContain('action="/status/login"')
    await expectError(await p.fetch('/status', { key: 'unknown-key' }), 401, 'unauthorized')
    await expectError(await p.fetch('/status', { key: KEYS.reader }), 403, 'forbidden')
    const res = await p.fetch('/status', { key: KEYS.admin })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/html/)
  })
})

describe('status page disabled', () => {
  it('is a 404', async () => {
    const d = await startHarness({
      config: { statusPage: { enabled: false, requireAdmin: false } },
    })
    try {
      await expectError(await d.fetch('/status'), 404, 'not_found')
    } finally {
      await d.close()
    }
  })
})
