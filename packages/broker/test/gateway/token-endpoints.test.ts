import { parsePrometheus } from '@wxbroker/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  APP1,
  APP2,
  GW_KEYS,
  SECRET1,
  SECRET2,
  startGateway,
  type GatewayHarness,
} from './support.js'

// GET /cgi-bin/token and POST /cgi-bin/stable_token (design §10): WeChat's exact shapes, compared
// with the simulator's own answers to the same requests, and every errcode of the §10 table.

const UNKNOWN_APP = 'wx00000000000000ff'
const WECHAT_JSON = 'application/json; encoding=utf-8'

interface Answer {
  status: number
  type: string | null
  text: string
  json: Record<string, unknown>
}

async function answerOf(res: Response): Promise<Answer> {
  const text = await res.text()
  return {
    status: res.status,
    type: res.headers.get('content-type'),
    text,
    json: JSON.parse(text) as Record<string, unknown>,
  }
}

function classic(base: string, q: Record<string, string>, init?: RequestInit): Promise<Answer> {
  return fetch(`${base}/cgi-bin/token?${new URLSearchParams(q).toString()}`, init).then(answerOf)
}

function stable(base: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${base}/cgi-bin/stable_token`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  }).then(answerOf)
}

const grant = 'client_credential'

/** A success: HTTP 200, WeChat's type, exactly `{"access_token":"…","expires_in":N}`. */
function expectTokenShape(a: Answer): { token: string; expiresIn: number } {
  expect([a.status, a.type]).toEqual([200, WECHAT_JSON])
  expect(a.text).toMatch(/^\{"access_token":"[A-Za-z0-9_.-]+","expires_in":\d+\}$/)
  return { token: a.json.access_token as string, expiresIn: a.json.expires_in as number }
}

/** A gateway error: HTTP 200, WeChat's type and keys, WeChat's text first, the broker's rid last. */
function expectError(a: Answer, errcode: number, text: string): void {
  expect([a.status, a.type]).toEqual([200, WECHAT_JSON])
  expect(Object.keys(a.json)).toEqual(['errcode', 'errmsg'])
  expect(a.json.errcode).toBe(errcode)
  expect(a.json.errmsg).toMatch(new RegExp(`^${text} \\(wxbroker: .+\\) rid: wxb-[0-9a-f-]{36}$`))
}

describe('gateway token endpoints', () => {
  let h: GatewayHarness
  beforeAll(async () => {
    h = await startGateway({
      // APP2 (classic) with 200-s tokens: its answers stay under 301 s (the stable floor).
      simApps: { [APP2]: { tokenExpiresIn: 200 } },
      // No background calls to WeChat: each test counts what reached it.
      apps: { [APP1]: { foreignCheckSeconds: 0 }, [APP2]: { foreignCheckSeconds: 0 } },
      // The refetch guard has its own tests (refetch-loop.test.ts); here it stays out of the way.
      gateway: { refetchGuard: { checkAfter: 100, refuseAfter: 200, windowSeconds: 60 } },
    })
  })
  afterAll(() => h.close())

  it('answer in the simulator’s own shape and Content-Type, with the broker’s token', async () => {
    const sim = await classic(h.sim.url, { grant_type: grant, appid: APP2, secret: SECRET2 })
    const gw = await classic(h.gw, { grant_type: grant, appid: APP2, secret: GW_KEYS.app2 })
    const simShape = expectTokenShape(sim)
    const ours = expectTokenShape(gw)
    expect(gw.type).toBe(sim.type)
    expect(gw.text.replace(ours.token, 'T').replace(/\d+\}$/, 'N}')).toBe(
      sim.text.replace(simShape.token, 'T').replace(/\d+\}$/, 'N}')
    )
    // The broker's current token (the one it serves on /v1 too), never a fresh fetch.
    expect(ours.token).toBe(h.broker.engine.peekToken(APP2)?.accessToken)

    const simStable = await stable(h.sim.url, { grant_type: grant, appid: APP1, secret: SECRET1 })
    const gwStable = await stable(h.gw, {
      grant_type: grant,
      appid: APP1,
      secret: GW_KEYS.sdk,
      force_refresh: false,
    })
    const s = expectTokenShape(gwStable)
    expect(gwStable.text.replace(s.token, 'T').replace(/\d+\}$/, 'N}')).toBe(
      simStable.text.replace(simStable.json.access_token as string, 'T').replace(/\d+\}$/, 'N}')
    )
    expect(s.token).toBe(h.broker.engine.peekToken(APP1)?.accessToken)
    expect(s.expiresIn).toBeGreaterThan(7000)
  })

  it('serve whichever kind the broker manages, to keys in secret or as Bearer, ignoring unknown parameters', async () => {
    const calls = await h.sim.admin.calls()
    // A stable-kind app through the classic endpoint, with PowerWeChat's extra neededText=.
    const a = await classic(h.gw, {
      grant_type: grant,
      appid: APP1,
      secret: GW_KEYS.sdk,
      neededText: '',
    })
    expect(expectTokenShape(a).token).toBe(h.broker.engine.peekToken(APP1)?.accessToken)
    // The key as a bearer instead of secret; POST on the classic endpoint as WeChat allows.
    const b = await classic(
      h.gw,
      { grant_type: grant, appid: APP1 },
      { method: 'POST', headers: { authorization: `Bearer ${GW_KEYS.sdk}` } }
    )
    expect(expectTokenShape(b).token).toBe(expectTokenShape(a).token)
    // A classic-kind app through the stable endpoint, with no Content-Type (wechatpy's way).
    const c = await stable(h.gw, { grant_type: grant, appid: APP2, secret: GW_KEYS.app2 })
    expect(expectTokenShape(c).token).toBe(h.broker.engine.peekToken(APP2)?.accessToken)
    // Answered locally: WeChat saw no token call.
    expect(await h.sim.admin.calls()).toEqual(calls)
  })

  it('stable-shaped answers never say less than 301 s; classic ones say the safe remaining use', async () => {
    const served = h.broker.engine.peekToken(APP2)
    expect(served?.expiresIn).toBeLessThan(301)
    const s = expectTokenShape(
      await stable(h.gw, { grant_type: grant, appid: APP2, secret: GW_KEYS.app2 })
    )
    expect(s.expiresIn).toBe(301)
    const c = expectTokenShape(
      await classic(h.gw, { grant_type: grant, appid: APP2, secret: GW_KEYS.app2 })
    )
    expect(c.expiresIn).toBeLessThanOrEqual(served?.expiresIn ?? 0)
    expect(c.expiresIn).toBeGreaterThan(0)
  })

  it('every errcode of the §10 table for the token endpoints', async () => {
    const before = await h.sim.admin.calls()
    const cases: [Promise<Answer>, number, string][] = [
      [classic(h.gw, { appid: APP1, secret: GW_KEYS.sdk }), 40002, 'invalid grant_type'],
      [
        classic(h.gw, { grant_type: 'authorization_code', appid: APP1, secret: GW_KEYS.sdk }),
        40002,
        'invalid grant_type',
      ],
      [classic(h.gw, { grant_type: grant, secret: GW_KEYS.sdk }), 41002, 'appid missing'],
      [classic(h.gw, { grant_type: grant, appid: APP1 }), 41004, 'appsecret missing'],
      [stable(h.gw, { grant_type: grant, secret: GW_KEYS.sdk }), 41002, 'appid missing'],
      [stable(h.gw, { grant_type: grant, appid: APP1, secret: '' }), 41004, 'appsecret missing'],
      // An appid the broker does not manage, for a key that may use any app.
      [
        classic(h.gw, { grant_type: grant, appid: UNKNOWN_APP, secret: GW_KEYS.multi }),
        40013,
        'invalid appid',
      ],
      // Unknown key; a key of another app; a key without the gateway scope; a real AppSecret.
      [
        classic(h.gw, { grant_type: grant, appid: APP1, secret: 'wxb_nobody' }),
        40125,
        'invalid appsecret',
      ],
      [
        classic(h.gw, { grant_type: grant, appid: APP1, secret: GW_KEYS.app2 }),
        40125,
        'invalid appsecret',
      ],
      [
        classic(h.gw, { grant_type: grant, appid: UNKNOWN_APP, secret: GW_KEYS.app2 }),
        40125,
        'invalid appsecret',
      ],
      [
        classic(h.gw, { grant_type: grant, appid: APP1, secret: GW_KEYS.noGateway }),
        40125,
        'invalid appsecret',
      ],
      [
        classic(h.gw, { grant_type: grant, appid: APP1, secret: SECRET1 }),
        40125,
        'invalid appsecret',
      ],
      [
        stable(h.gw, { grant_type: grant, appid: APP2, secret: SECRET2 }),
        40125,
        'invalid appsecret',
      ],
      // The key may use several apps: it must say which.
      [classic(h.gw, { grant_type: grant, secret: GW_KEYS.multi }), 41002, 'appid missing'],
      // GET on stable_token; another method on token.
      [fetch(`${h.gw}/cgi-bin/stable_token`).then(answerOf), 43002, 'require POST method'],
      [
        fetch(`${h.gw}/cgi-bin/token`, { method: 'PUT' }).then(answerOf),
        43001,
        'require GET method',
      ],
      // Bodies WeChat would refuse.
      [stable(h.gw, ''), 44002, 'empty post data'],
      [stable(h.gw, 'grant_type=client_credential'), 47001, 'data format error'],
      [
        stable(h.gw, { grant_type: grant, appid: APP1, secret: GW_KEYS.sdk, force_refresh: 'yes' }),
        47001,
        'data format error',
      ],
    ]
    for (const [pending, errcode, text] of cases) expectError(await pending, errcode, text)
    // Nothing of it reached WeChat.
    expect(await h.sim.admin.calls()).toEqual(before)
  })

  it('a real AppSecret is counted and logged by app, never by value', async () => {
    const metrics = parsePrometheus(await (await fetch(`${h.url}/metrics`)).text())
    const refused = metrics.samples.filter(
      (s) => s.name === 'wxbroker_gateway_appsecret_refused_total'
    )
    expect(refused.map((s) => [s.labels.appid, s.value]).sort()).toEqual([
      [APP1, 1],
      [APP2, 1],
    ])
    const warnings = h.logs.filter((l) => l.includes('a real AppSecret was sent to the gateway'))
    expect(warnings).toHaveLength(2)
    for (const line of h.logs) {
      expect(line).not.toContain(SECRET1)
      expect(line).not.toContain(SECRET2)
    }
  })

  it('alias mode: an opaque token bound to the client, the same one while the real token is, with the same expiry', async () => {
    const real = expectTokenShape(
      await classic(h.gw, { grant_type: grant, appid: APP1, secret: GW_KEYS.sdk })
    )
    const a1 = expectTokenShape(
      await classic(h.gw, { grant_type: grant, appid: APP1, secret: GW_KEYS.alias })
    )
    const a2 = expectTokenShape(
      await stable(h.gw, { grant_type: grant, appid: APP1, secret: GW_KEYS.alias })
    )
    const other = expectTokenShape(
      await classic(h.gw, { grant_type: grant, appid: APP1, secret: GW_KEYS.alias2 })
    )
    expect(a1.token).toMatch(/^wxbt_/)
    expect(a1.token).not.toContain(real.token)
    expect(a2.token).toBe(a1.token)
    expect(other.token).not.toBe(a1.token)
    expect(Math.abs(a1.expiresIn - real.expiresIn)).toBeLessThanOrEqual(1)
    // WeChat does not know it.
    const check = await h.sim.admin.checkToken(a1.token)
    expect(check.valid).toBe(false)
  })

  it('force_refresh is a report: a token WeChat refuses is replaced once, one it accepts stays', async () => {
    const body = { grant_type: grant, appid: APP1, secret: GW_KEYS.sdk, force_refresh: true }
    const old = h.broker.engine.peekToken(APP1)?.accessToken
    const before = await h.sim.admin.calls()
    // Leaked and revoked at WeChat: the key's force_refresh replaces it through the engine's
    // compare-and-refresh: one upstream call for any number of concurrent reports.
    await h.sim.admin.retireToken(APP1, 'stable')
    const answers = await Promise.all([stable(h.gw, body), stable(h.gw, body), stable(h.gw, body)])
    const tokens = new Set(answers.map((a) => expectTokenShape(a).token))
    expect(tokens.size).toBe(1)
    const [fresh] = [...tokens] as [string]
    expect(fresh).not.toBe(old)
    expect(fresh).toBe(h.broker.engine.peekToken(APP1)?.accessToken)
    expect((await h.sim.admin.checkToken(fresh)).valid).toBe(true)
    const afterRefused = await h.sim.admin.calls()
    expect(afterRefused['/cgi-bin/stable_token']).toBe((before['/cgi-bin/stable_token'] ?? 0) + 1)

    // A token WeChat accepts is only checked (quota/get), never replaced.
    const again = expectTokenShape(await stable(h.gw, body))
    expect(again.token).toBe(fresh)
    const after = await h.sim.admin.calls()
    expect(after['/cgi-bin/stable_token']).toBe(afterRefused['/cgi-bin/stable_token'])
    expect(after['/cgi-bin/openapi/quota/get']).toBeGreaterThan(
      afterRefused['/cgi-bin/openapi/quota/get'] ?? 0
    )
  })

  it('one access line per request and the gateway metrics, by endpoint and client, never the raw query', async () => {
    const lines = h.logs.filter((l) => l.includes('"surface":"gateway"'))
    expect(lines.length).toBeGreaterThan(20)
    for (const line of lines) {
      const entry = JSON.parse(line) as Record<string, unknown>
      expect(['/cgi-bin/token', '/cgi-bin/stable_token']).toContain(entry.route)
      expect(typeof entry.errcode).toBe('number')
      expect(line).not.toMatch(/secret=|grant_type|wxb_[A-Za-z0-9-]/)
    }
    const metrics = parsePrometheus(await (await fetch(`${h.url}/metrics`)).text())
    const requests = metrics.samples.filter((s) => s.name === 'wxbroker_gateway_requests_total')
    expect(requests).toContainEqual(
      expect.objectContaining({
        labels: { client: 'sdk', endpoint: '/cgi-bin/token', errcode: '0' },
      })
    )
    expect(requests).toContainEqual(
      expect.objectContaining({
        labels: { client: 'unknown', endpoint: '/cgi-bin/token', errcode: '40125' },
      })
    )
    expect(
      metrics.samples.some(
        (s) =>
          s.name === 'wxbroker_gateway_request_duration_seconds_count' &&
          s.labels.endpoint === '/cgi-bin/stable_token'
      )
    ).toBe(true)
  })
})

describe('gateway token endpoints without a token to give', () => {
  let h: GatewayHarness
  beforeAll(async () => {
    h = await startGateway({
      // APP1 cannot get a token (WeChat refuses this replica); APP2 spends its one daily call on a
      // transient failure, so its quota guard holds.
      apps: { [APP2]: { dailyQuota: 1, scheduledReserve: 0 } },
      beforeBroker: async (sim) => {
        await sim.admin.addFault({ endpoint: '/cgi-bin/stable_token', errcode: 40164, times: -1 })
        await sim.admin.addFault({ endpoint: '/cgi-bin/token', errcode: -1, times: 1 })
      },
    })
  })
  afterAll(() => h.close())

  it('no valid token: −1 (never 40001); the daily guard: 45009', async () => {
    expectError(
      await classic(h.gw, { grant_type: grant, appid: APP1, secret: GW_KEYS.sdk }),
      -1,
      'system error'
    )
    expectError(
      await stable(h.gw, { grant_type: grant, appid: APP2, secret: GW_KEYS.app2 }),
      45009,
      'reach max api daily quota limit'
    )
  })
})
