import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { rawRequest } from '../support/raw-http.js'
import { startRecorder, type Recorder } from './recorder.js'
import { APP1, APP2, GW_KEYS, SECRET1, startGateway, type GatewayHarness } from './support.js'

// The allow-listed proxy (design §10) over real HTTP: broker → a recording hop → the simulator.
// The hop shows what the broker really sent WeChat (target, headers, body).

const WECHAT_JSON = 'application/json; encoding=utf-8'
const OPENID = 'o-proxy-user'

async function tokenFor(h: GatewayHarness, key: string, appid = APP1): Promise<string> {
  const res = await fetch(
    `${h.gw}/cgi-bin/token?grant_type=client_credential&appid=${appid}&secret=${key}`
  )
  return ((await res.json()) as { access_token: string }).access_token
}

const secCheck = (content = 'hello world') =>
  JSON.stringify({ content, version: 2, scene: 1, openid: OPENID })

async function json(res: Response): Promise<Record<string, unknown>> {
  return (await res.json()) as Record<string, unknown>
}

describe('gateway proxy', () => {
  let h: GatewayHarness
  let rec: Recorder
  beforeAll(async () => {
    rec = await startRecorder()
    h = await startGateway({
      // No cooldown between report-driven refreshes, so each test may cause its own.
      apps: {
        [APP1]: { invalidateCooldownSeconds: 0, foreignCheckSeconds: 0 },
        [APP2]: { invalidateCooldownSeconds: 0, foreignCheckSeconds: 0 },
      },
      // WeChat's answer must start, and keep coming, within 1.5 s.
      gateway: { timeoutMs: 1500 },
      config: { wechat: { baseUrl: rec.url, timeoutMs: 2000, verifySecretOnStart: false } },
      beforeBroker: async (sim) => {
        rec.target = sim.url
        for (const appid of [APP1, APP2]) await sim.admin.registerUser({ appid, openid: OPENID })
      },
    })
  })
  afterAll(async () => {
    await h.close()
    await rec.close()
  })

  it('sends the app’s current token (exactly one access_token), the rest of the query and the body as they came, and only safe headers', async () => {
    const token = await tokenFor(h, GW_KEYS.sdk)
    const from = rec.requests.length
    const body = secCheck()
    const res = await rawRequest(h.gw, {
      method: 'POST',
      path: `/wxa/msg_sec_check?access_token=${token}&foo=1&access_token=bogus&access%5Ftoken=x&bar=a%20b`,
      headers: {
        host: 'evil.example',
        'content-type': 'application/json',
        authorization: `Bearer ${GW_KEYS.sdk}`,
        cookie: 'session=abc',
        'x-forwarded-for': '10.0.0.1',
        'x-forwarded-host': 'evil.example',
        'x-real-ip': '10.0.0.1',
        'proxy-authorization': 'Basic Zm9vOmJhcg==',
        forwarded: 'host=evil.example',
        te: 'trailers',
        'user-agent': 'sdk/1.0',
      },
      body: { chunks: [Buffer.from(body)], chunked: false },
    })
    expect([res.status, res.headers['content-type']]).toEqual([200, WECHAT_JSON])
    expect(JSON.parse(res.body.toString())).toMatchObject({
      errcode: 0,
      result: { suggest: 'pass' },
    })
    const [sent] = rec.to('/wxa/msg_sec_check', from)
    const current = h.broker.engine.peekToken(APP1)?.accessToken ?? ''
    expect(sent?.url).toBe(
      `/wxa/msg_sec_check?foo=1&bar=a%20b&access_token=${encodeURIComponent(current)}`
    )
    expect(sent?.body.toString()).toBe(body)
    // The configured upstream, whatever Host or X-Forwarded-Host said; no credential or proxy header.
    expect(sent?.headers.host).toBe(new URL(rec.url).host)
    expect(Object.keys(sent?.headers ?? {}).sort()).toEqual(
      ['connection', 'content-length', 'content-type', 'host', 'user-agent'].sort()
    )
  })

  it('forwards POST bodies with no Content-Type (wechatpy) or any (WxJava’s text/plain) as they came', async () => {
    const token = await tokenFor(h, GW_KEYS.sdk)
    const from = rec.requests.length
    const kinds: Record<string, string>[] = [
      {},
      { 'content-type': 'text/plain; charset=ISO-8859-1' },
    ]
    for (const headers of kinds) {
      const res = await fetch(`${h.gw}/wxa/msg_sec_check?access_token=${token}`, {
        method: 'POST',
        headers,
        body: secCheck(),
      })
      expect((await json(res)).errcode).toBe(0)
    }
    const sent = rec.to('/wxa/msg_sec_check', from)
    expect(sent.map((r) => r.headers['content-type'])).toEqual([
      'text/plain;charset=UTF-8', // fetch labels a string body itself
      'text/plain; charset=ISO-8859-1',
    ])
    const bare = await rawRequest(h.gw, {
      method: 'POST',
      path: `/wxa/msg_sec_check?access_token=${token}`,
      headers: {},
      body: { chunks: [Buffer.from(secCheck())], chunked: true },
    })
    expect(JSON.parse(bare.body.toString())).toMatchObject({ errcode: 0 })
    const last = rec.to('/wxa/msg_sec_check', from).at(-1)
    expect(last?.headers['content-type']).toBeUndefined()
    expect(last?.body.toString()).toBe(secCheck())
  })

  it('login: the client key in secret becomes the app’s real secret; an access_token there is dropped', async () => {
    const token = await tokenFor(h, GW_KEYS.sdk)
    for (const [i, query] of [
      `appid=${APP1}&secret=${GW_KEYS.sdk}&js_code=code-1&grant_type=authorization_code`,
      // wechatpy, WxJava and PowerWeChat also send their access_token.
      `appid=${APP1}&secret=${GW_KEYS.sdk}&js_code=code-2&grant_type=authorization_code&access_token=${token}`,
    ].entries()) {
      await h.sim.admin.registerLoginCode({ appid: APP1, code: `code-${i + 1}`, openid: 'o-login' })
      const from = rec.requests.length
      const res = await fetch(`${h.gw}/sns/jscode2session?${query}`)
      expect(await json(res)).toMatchObject({ openid: 'o-login' })
      const [sent] = rec.to('/sns/jscode2session', from)
      expect(sent?.url).toBe(
        `/sns/jscode2session?js_code=code-${i + 1}&grant_type=authorization_code&appid=${APP1}&secret=${encodeURIComponent(SECRET1)}`
      )
    }
    // The key as a bearer, the app from the key's single app; an alias client's key.
    await h.sim.admin.registerLoginCode({ appid: APP1, code: 'code-3', openid: 'o-login' })
    const bearer = await fetch(
      `${h.gw}/sns/jscode2session?js_code=code-3&grant_type=authorization_code`,
      {
        headers: { authorization: `Bearer ${GW_KEYS.alias}` },
      }
    )
    expect(await json(bearer)).toMatchObject({ openid: 'o-login' })
    // A login error is WeChat's own answer, passed through.
    const used = await json(
      await fetch(
        `${h.gw}/sns/jscode2session?appid=${APP1}&secret=${GW_KEYS.sdk}&js_code=code-3&grant_type=authorization_code`
      )
    )
    expect(used.errcode).toBe(40163)
    expect(used.errmsg).toMatch(/ rid: [0-9a-f]{8}-/)
  })

  it('alias tokens work only here: swapped for the real token; WeChat never sees them', async () => {
    const alias = await tokenFor(h, GW_KEYS.alias)
    expect(alias).toMatch(/^wxbt_/)
    const from = rec.requests.length
    const res = await fetch(`${h.gw}/wxa/msg_sec_check?access_token=${alias}`, {
      method: 'POST',
      body: secCheck(),
    })
    expect((await json(res)).errcode).toBe(0)
    for (const r of rec.requests.slice(from)) expect(r.url).not.toContain('wxbt_')
    // Straight at WeChat it is nothing.
    const direct = await fetch(`${h.sim.url}/wxa/msg_sec_check?access_token=${alias}`, {
      method: 'POST',
      body: secCheck(),
    })
    expect((await json(direct)).errcode).toBe(40001)
  })

  it('streams images: the head and first bytes reach the caller before WeChat has sent the rest; bytes and type unchanged', async () => {
    const token = await tokenFor(h, GW_KEYS.sdk)
    const body = JSON.stringify({ scene: 'a=1' })
    const direct = await fetch(`${h.sim.url}/wxa/getwxacodeunlimit?access_token=${token}`, {
      method: 'POST',
      body,
    })
    const expected = Buffer.from(await direct.arrayBuffer())
    expect(direct.headers.get('content-type')).toBe('image/jpeg')

    rec.holdRest.set('/wxa/getwxacodeunlimit', 1000)
    try {
      const started = performance.now()
      const res = await fetch(`${h.gw}/wxa/getwxacodeunlimit?access_token=${token}`, {
        method: 'POST',
        body,
      })
      const headAt = performance.now() - started
      const reader = (res.body as ReadableStream<Uint8Array>).getReader()
      const first = await reader.read()
      const firstAt = performance.now() - started
      const parts = [Buffer.from(first.value ?? [])]
      for (;;) {
        const next = await reader.read()
        if (next.done) break
        parts.push(Buffer.from(next.value))
      }
      const endAt = performance.now() - started
      expect(res.headers.get('content-type')).toBe('image/jpeg')
      expect(Buffer.concat(parts).equals(expected)).toBe(true)
      expect(headAt).toBeLessThan(700)
      expect(firstAt).toBeLessThan(700)
      expect(endAt).toBeGreaterThanOrEqual(950)
    } finally {
      rec.holdRest.delete('/wxa/getwxacodeunlimit')
    }
    // A JSON error on an image path stays JSON, with WeChat's type.
    const err = await fetch(`${h.gw}/wxa/getwxacodeunlimit?access_token=${token}`, {
      method: 'POST',
      body: JSON.stringify({ scene: '' }),
    })
    expect(err.headers.get('content-type')).toBe(WECHAT_JSON)
    expect((await json(err)).errcode).toBe(40169)
  })

  it('a token WeChat revoked: compare-and-refresh, the call sent once more with the new token; the caller sees success', async () => {
    for (const key of [GW_KEYS.sdk, GW_KEYS.alias]) {
      const presented = await tokenFor(h, key)
      const old = h.broker.engine.peekToken(APP1)?.accessToken
      await h.sim.admin.retireToken(APP1, 'stable')
      const from = rec.requests.length
      const res = await fetch(`${h.gw}/wxa/msg_sec_check?access_token=${presented}`, {
        method: 'POST',
        body: secCheck(),
      })
      expect((await json(res)).errcode).toBe(0)
      const fresh = h.broker.engine.peekToken(APP1)?.accessToken
      expect(fresh).not.toBe(old)
      const sends = rec.to('/wxa/msg_sec_check', from)
      expect(sends.map((r) => new URL(r.url, 'http://x').searchParams.get('access_token'))).toEqual(
        [old, fresh]
      )
      expect(rec.to('/cgi-bin/stable_token', from)).toHaveLength(1)
      // The old real token still names its app within WeChat's overlap: it keeps working here.
      if (key === GW_KEYS.sdk) {
        const again = await fetch(`${h.gw}/wxa/msg_sec_check?access_token=${presented}`, {
          method: 'POST',
          body: secCheck(),
        })
        expect((await json(again)).errcode).toBe(0)
      }
    }
  })

  it('40014 and 42001 too; a second refusal is passed on as WeChat said it, after one retry only', async () => {
    const token = await tokenFor(h, GW_KEYS.app2, APP2)
    for (const errcode of [40014, 42001]) {
      await h.sim.admin.addFault({ endpoint: '/cgi-bin/message/subscribe/send', errcode })
      const from = rec.requests.length
      const res = await fetch(`${h.gw}/cgi-bin/message/subscribe/send?access_token=${token}`, {
        method: 'POST',
        body: JSON.stringify({ touser: OPENID, template_id: 'none', data: {} }),
      })
      // The retry reached WeChat's own validation: an unknown template.
      expect((await json(res)).errcode).toBe(40037)
      expect(rec.to('/cgi-bin/message/subscribe/send', from)).toHaveLength(2)
      expect(rec.to('/cgi-bin/token', from)).toHaveLength(1)
    }
    await h.sim.admin.addFault({
      endpoint: '/cgi-bin/message/subscribe/send',
      errcode: 40001,
      times: 2,
    })
    const from = rec.requests.length
    const res = await fetch(`${h.gw}/cgi-bin/message/subscribe/send?access_token=${token}`, {
      method: 'POST',
      body: JSON.stringify({ touser: OPENID, template_id: 'none', data: {} }),
    })
    const answer = await json(res)
    expect(answer.errcode).toBe(40001)
    expect(answer.errmsg).toMatch(/ rid: [0-9a-f]{8}-/) // WeChat's own answer, not the broker's
    expect(rec.to('/cgi-bin/message/subscribe/send', from)).toHaveLength(2)
  })

  it('every answer carries X-Request-Id: the caller’s own when it sent a safe one, else a new one', async () => {
    const token = await tokenFor(h, GW_KEYS.sdk)
    const proxied = await fetch(`${h.gw}/wxa/msg_sec_check?access_token=${token}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'trace-abc-123' },
      body: secCheck(),
    })
    expect(await json(proxied)).toMatchObject({ errcode: 0 })
    expect(proxied.headers.get('x-request-id')).toBe('trace-abc-123')
    const image = await fetch(`${h.gw}/wxa/getwxacodeunlimit?access_token=${token}`, {
      method: 'POST',
      body: JSON.stringify({ scene: 'a=1' }),
    })
    expect(image.headers.get('content-type')).toMatch(/^image\//)
    expect(image.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    const refused = await fetch(`${h.gw}/cgi-bin/clear_quota?access_token=${token}`, {
      method: 'POST',
      headers: { 'x-request-id': 'bad id with spaces' },
    })
    const id = refused.headers.get('x-request-id') ?? ''
    expect(id).toMatch(/^[0-9a-f-]{36}$/)
    // The rid in WeChat's errmsg is the same request's.
    expect((await json(refused)).errmsg).toContain(`rid: wxb-${id.slice(0, 8)}`)
  })

  it('a caller that goes away ends its upstream call too', async () => {
    const token = await tokenFor(h, GW_KEYS.sdk)
    const path = '/wxa/msg_sec_check'
    const from = rec.requests.length
    rec.delay.set(path, 1200)
    try {
      const body = secCheck()
      const socket = connect(Number(new URL(h.gw).port), '127.0.0.1')
      socket.on('error', () => undefined)
      socket.write(
        `POST ${path}?access_token=${token} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n${body}`
      )
      await vi.waitFor(() => expect(rec.to(path, from)).toHaveLength(1), { timeout: 1000 })
      socket.destroy()
      // Cut at once, long before WeChat's (delayed) answer would have come.
      await vi.waitFor(() => expect(rec.abandoned).toContain(rec.to(path, from)[0]), {
        timeout: 800,
      })
    } finally {
      rec.delay.delete(path)
    }
  })

  it('WeChat too slow, a 5xx page, a dropped connection: HTTP 200 with −1, never a 5xx', async () => {
    const token = await tokenFor(h, GW_KEYS.sdk)
    const call = () =>
      fetch(`${h.gw}/cgi-bin/openapi/quota/get?access_token=${token}`, {
        method: 'POST',
        body: JSON.stringify({ cgi_path: '/cgi-bin/stable_token' }),
      })
    rec.delay.set('/cgi-bin/openapi/quota/get', 2500)
    try {
      const started = performance.now()
      const slow = await call()
      expect(performance.now() - started).toBeLessThan(2200)
      expect([slow.status, slow.headers.get('content-type')]).toEqual([200, WECHAT_JSON])
      expect(await json(slow)).toMatchObject({ errcode: -1 })
    } finally {
      rec.delay.delete('/cgi-bin/openapi/quota/get')
    }
    await h.sim.admin.addFault({ endpoint: '/cgi-bin/openapi/quota/get', status: 502 })
    const page = await call()
    expect(page.status).toBe(200)
    const body = await json(page)
    expect(body.errcode).toBe(-1)
    expect(body.errmsg).toMatch(/^system error \(wxbroker: WeChat answered HTTP 502\) rid: wxb-/)
    await h.sim.admin.addFault({ endpoint: '/cgi-bin/openapi/quota/get', drop: true })
    expect(await json(await call())).toMatchObject({ errcode: -1 })
    // And then it works again.
    expect(await json(await call())).toMatchObject({ errcode: 0 })
  })
})
