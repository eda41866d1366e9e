import { parsePrometheus } from '@wxbroker/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256 } from '../../src/config/load.js'
import { aliasTokens } from '../../src/gateway/alias-tokens.js'
import { rawRequest, type RawRequest } from '../support/raw-http.js'
import { startRecorder, type Recorder } from './recorder.js'
import {
  APP1,
  APP2,
  GW_CLIENTS,
  GW_KEYS,
  SECRET1,
  SECRET2,
  startGateway,
  type GatewayHarness,
} from './support.js'

// What the gateway refuses (design §10 and sdk-compat §5): each refusal answered WeChat's way
// with the documented errcode, and NOTHING forwarded: neither the recording hop in front of the
// simulator nor the simulator's call log sees a request.

const WECHAT_JSON = 'application/json; encoding=utf-8'
const MAX_BODY = 4096

describe('gateway security', () => {
  let h: GatewayHarness
  let rec: Recorder
  let token: string
  let alias: string
  beforeAll(async () => {
    rec = await startRecorder()
    h = await startGateway({
      apps: { [APP1]: { foreignCheckSeconds: 0 }, [APP2]: { foreignCheckSeconds: 0 } },
      gateway: { maxBodyBytes: MAX_BODY },
      config: { wechat: { baseUrl: rec.url, timeoutMs: 2000, verifySecretOnStart: false } },
      beforeBroker: (sim) => {
        rec.target = sim.url
        return sim.admin.registerUser({ appid: APP1, openid: 'o-sec' })
      },
    })
    const fetchToken = async (key: string): Promise<string> => {
      const res = await fetch(
        `${h.gw}/cgi-bin/token?grant_type=client_credential&appid=${APP1}&secret=${key}`
      )
      return ((await res.json()) as { access_token: string }).access_token
    }
    token = await fetchToken(GW_KEYS.sdk)
    alias = await fetchToken(GW_KEYS.alias)
  })
  afterAll(async () => {
    await h.close()
    await rec.close()
  })

  /** Sends `r`, expects `errcode` from the gateway itself, and that nothing went upstream. */
  async function refused(r: RawRequest, errcode: number): Promise<string> {
    const upstream = rec.requests.length
    const simCalls = (await h.sim.admin.callLog()).length
    const res = await rawRequest(h.gw, r)
    expect([res.status, res.headers['content-type']]).toEqual([200, WECHAT_JSON])
    const body = JSON.parse(res.body.toString()) as { errcode: number; errmsg: string }
    expect({ target: r.path, errcode: body.errcode }).toEqual({ target: r.path, errcode })
    expect(body.errmsg).toMatch(/ rid: wxb-/)
    expect(rec.requests.slice(upstream).map((q) => q.url)).toEqual([])
    expect((await h.sim.admin.callLog()).length).toBe(simCalls)
    return body.errmsg
  }

  const post = (path: string, headers: Record<string, string> = {}, body = '{}'): RawRequest => ({
    method: 'POST',
    path,
    headers,
    body: { chunks: [Buffer.from(body)], chunked: false },
  })
  const get = (path: string, headers: Record<string, string> = {}): RawRequest => ({
    method: 'GET',
    path,
    headers,
  })

  it('a forwarded call goes through (the baseline the refusals are measured against)', async () => {
    const res = await rawRequest(
      h.gw,
      post(
        `/wxa/msg_sec_check?access_token=${token}`,
        {},
        JSON.stringify({ content: 'hi', version: 2, scene: 1, openid: 'o-sec' })
      )
    )
    expect(JSON.parse(res.body.toString())).toMatchObject({ errcode: 0 })
  })

  it('refuses targets that could reach another host or path: absolute-form, //, dot segments, encoded separators, @, backslash', async () => {
    const q = `?access_token=${token}`
    for (const path of [
      `http://evil.example/wxa/msg_sec_check${q}`,
      `https://evil.example/wxa/msg_sec_check${q}`,
      `//evil.example/wxa/msg_sec_check${q}`,
      `/wxa/../cgi-bin/clear_quota${q}`,
      `/wxa/./msg_sec_check${q}`,
      `/wxa/%2e%2e/cgi-bin/clear_quota${q}`,
      `/wxa%2fmsg_sec_check${q}`,
      `/wxa%2Fmsg_sec_check${q}`,
      `/wxa%5cmsg_sec_check${q}`,
      `/wxa\\msg_sec_check${q}`,
      `/wxa//msg_sec_check${q}`,
      `/wxa/msg_sec_check/${q}`,
      `/@evil.example/wxa/msg_sec_check${q}`,
      `/wxa/msg_sec_check@evil.example${q}`,
      `/wxa/msg%5Fsec%5Fcheck${q}`,
      // Under an allowed prefix: each would match /datacube/* or /wxaapi/newtmpl/* if taken as is.
      `/datacube/../cgi-bin/clear_quota${q}`,
      `/datacube/%2e%2e/cgi-bin/clear_quota${q}`,
      `/datacube/%2E%2E%2Fcgi-bin%2Fclear_quota${q}`,
      `/datacube/..%2f..%2fcgi-bin/clear_quota${q}`,
      `/datacube/..\\cgi-bin\\clear_quota${q}`,
      `/datacube//evil.example/x${q}`,
      `/datacube/x/${q}`,
      `/datacube/@evil.example${q}`,
      `/wxaapi/newtmpl/../../cgi-bin/token${q}`,
    ]) {
      await refused(post(path), 48001)
    }
    // CONNECT (authority-form): Node's server closes such a connection unanswered.
    const upstream = rec.requests.length
    await expect(
      rawRequest(h.gw, { method: 'CONNECT', path: 'evil.example:443', headers: {} })
    ).rejects.toThrow(/socket hang up|ECONNRESET/)
    expect(rec.requests.length).toBe(upstream)
  })

  it('refuses paths outside the allow-list, clear_quota, component APIs, and the token endpoints as proxied paths', async () => {
    const q = `?access_token=${token}`
    for (const path of [
      `/cgi-bin/user/info${q}`,
      `/cgi-bin/clear_quota${q}`,
      `/cgi-bin/clear_quota/v2?appid=${APP1}&appsecret=${GW_KEYS.sdk}`,
      `/CGI-BIN/clear_quota${q}`,
      `/cgi-bin/openapi/quota/clear${q}`,
      `/cgi-bin/component/api_component_token`,
      `/cgi-bin/component/api_authorizer_token${q}`,
      `/sns/component/jscode2session?appid=${APP1}&js_code=x&grant_type=authorization_code&component_appid=wx1&component_access_token=y`,
      `/cgi-bin/token/extra${q}`,
      `/cgi-bin/stable_token/x${q}`,
      `/__sim/reset`,
    ]) {
      await refused(post(path), 48001)
    }
    // The token endpoints are answered here, never sent on (not even with a token in hand).
    await refused(post(`/cgi-bin/token${q}`), 40002)
    await refused(post(`/cgi-bin/stable_token${q}`, {}, '{}'), 40002)
  })

  it('refuses wrong methods before anything is sent', async () => {
    await refused(get(`/wxa/msg_sec_check?access_token=${token}`), 43002)
    await refused(post(`/wxa/checksession?access_token=${token}`), 43001)
    await refused({ ...post(`/wxa/msg_sec_check?access_token=${token}`), method: 'PUT' }, 43001)
  })

  it('refuses callers: no credential, unknown tokens, a real AppSecret, a key of another app or without the gateway scope', async () => {
    const login = (secret: string, appid = APP1) =>
      get(
        `/sns/jscode2session?appid=${appid}&secret=${secret}&js_code=c&grant_type=authorization_code`
      )
    await refused(post('/wxa/msg_sec_check'), 41001)
    await refused(
      get(`/sns/jscode2session?appid=${APP1}&js_code=c&grant_type=authorization_code`),
      41004
    )
    await refused(post('/wxa/msg_sec_check?access_token=not-a-token-the-broker-issued'), 40001)
    // A real token WeChat issued to someone else (not through this broker).
    const foreign = await fetch(
      `${h.sim.url}/cgi-bin/token?grant_type=client_credential&appid=${APP2}&secret=${SECRET2}`
    )
    const foreignToken = ((await foreign.json()) as { access_token: string }).access_token
    await refused(post(`/wxa/msg_sec_check?access_token=${foreignToken}`), 40001)
    // The real AppSecret, where an SDK puts its secret; also as a bearer key.
    const before = parsePrometheus(await (await fetch(`${h.url}/metrics`)).text())
    const count = (m: typeof before): number =>
      m.samples.find(
        (s) => s.name === 'wxbroker_gateway_appsecret_refused_total' && s.labels.appid === APP1
      )?.value ?? 0
    expect(await refused(login(SECRET1), 40125)).toContain(
      'a real AppSecret is never accepted here'
    )
    await refused(
      post(`/wxa/msg_sec_check?appid=${APP1}`, { authorization: `Bearer ${SECRET1}` }),
      40125
    )
    const after = parsePrometheus(await (await fetch(`${h.url}/metrics`)).text())
    expect(count(after) - count(before)).toBe(2)
    // A key of another app; a key without the gateway scope; an unknown key.
    await refused(login(GW_KEYS.app2), 40125)
    await refused(
      post(`/wxa/msg_sec_check?appid=${APP1}`, { authorization: `Bearer ${GW_KEYS.app2}` }),
      40125
    )
    await refused(login(GW_KEYS.noGateway), 40125)
    await refused(
      post('/wxa/msg_sec_check', { authorization: `Bearer ${GW_KEYS.noGateway}` }),
      40125
    )
    await refused(login('wxb_unknown-key'), 40125)
    // A key that may use several apps must name one.
    await refused(post('/wxa/msg_sec_check', { authorization: `Bearer ${GW_KEYS.multi}` }), 41002)
  })

  it('alias tokens: bound to their client, their paths, their key and their expiry', async () => {
    // A path outside the client's gatewayPaths.
    const narrow = (
      (await (
        await fetch(
          `${h.gw}/cgi-bin/token?grant_type=client_credential&appid=${APP1}&secret=${GW_KEYS.narrow}`
        )
      ).json()) as { access_token: string }
    ).access_token
    expect(
      await refused(post(`/cgi-bin/message/subscribe/send?access_token=${narrow}`), 48001)
    ).toContain('gatewayPaths')
    // The same client's key cannot widen them either.
    await refused(
      post(`/cgi-bin/message/subscribe/send?appid=${APP1}`, {
        authorization: `Bearer ${GW_KEYS.narrow}`,
      }),
      48001
    )
    // Another client's alias with this client's key: as a bearer, or in the login's secret.
    expect(
      await refused(
        post(`/wxa/msg_sec_check?access_token=${alias}`, {
          authorization: `Bearer ${GW_KEYS.alias2}`,
        }),
        40125
      )
    ).toContain('issued to another client')
    await refused(
      get(
        `/sns/jscode2session?appid=${APP1}&secret=${GW_KEYS.alias2}&js_code=c&grant_type=authorization_code&access_token=${alias}`
      ),
      40125
    )
    // Forged, of a rotated key, expired: what the broker's replicas derive for this config.
    const clients = GW_CLIENTS.map((c) => ({
      name: c.name,
      keyHash: sha256(c.key),
      apps: new Set(c.apps),
      scopes: new Set(c.scopes),
    }))
    const apps = [
      { appid: APP1, secret: SECRET1 },
      { appid: APP2, secret: SECRET2 },
    ]
    const aliasClient = clients.find((c) => c.name === 'alias')!
    const valid = aliasTokens(apps, clients).issue(aliasClient, APP1, Date.now() + 60_000)
    expect(valid).not.toBe(alias) // another expiry
    const expired = aliasTokens(apps, clients).issue(aliasClient, APP1, Date.now() - 1000)
    await refused(post(`/wxa/msg_sec_check?access_token=${expired}`), 42001)
    const oldKey = { ...aliasClient, keyHash: sha256('the-alias-clients-previous-key') }
    const ofOldKey = aliasTokens(apps, [oldKey]).issue(oldKey, APP1, Date.now() + 60_000)
    await refused(post(`/wxa/msg_sec_check?access_token=${ofOldKey}`), 40001)
    await refused(post(`/wxa/msg_sec_check?access_token=${alias.slice(0, -4)}AAAA`), 40001)
    const otherApp = aliasTokens(apps, clients).issue(aliasClient, APP2, Date.now() + 60_000)
    await refused(post(`/wxa/msg_sec_check?access_token=${otherApp}`), 40001)
  })

  it('refuses a body over gateway.maxBodyBytes, declared or chunked, before anything is sent', async () => {
    const big = Buffer.alloc(MAX_BODY + 1, 'a')
    const path = `/wxa/msg_sec_check?access_token=${token}`
    expect(
      await refused({ ...post(path), body: { chunks: [big], chunked: false } }, 45002)
    ).toContain('gateway.maxBodyBytes')
    await refused(
      {
        ...post(path),
        body: { chunks: [big.subarray(0, 3000), big.subarray(3000)], chunked: true },
      },
      45002
    )
    // At the limit it goes through.
    const res = await rawRequest(h.gw, {
      ...post(path),
      body: { chunks: [Buffer.alloc(MAX_BODY, ' ')], chunked: false },
    })
    expect(JSON.parse(res.body.toString())).toMatchObject({ errcode: 44002 }) // WeChat: empty
  })

  it('follows no redirect from upstream: −1, and the Location is never requested', async () => {
    await h.sim.admin.addFault({
      endpoint: '/wxa/msg_sec_check',
      status: 302,
      location: `${rec.url}/steal?access_token=${token}`,
      body: '',
    })
    const from = rec.requests.length
    const res = await fetch(`${h.gw}/wxa/msg_sec_check?access_token=${token}`, {
      method: 'POST',
      body: '{}',
    })
    expect([res.status, res.headers.get('content-type'), res.headers.get('location')]).toEqual([
      200,
      WECHAT_JSON,
      null,
    ])
    const body = (await res.json()) as { errcode: number; errmsg: string }
    expect(body.errcode).toBe(-1)
    expect(body.errmsg).toContain('follows no redirect')
    expect(rec.requests.slice(from).map((r) => r.path)).toEqual(['/wxa/msg_sec_check'])
  })

  it('the server’s own refusals (malformed requests) are WeChat-shaped too', async () => {
    const res = await rawRequest(h.gw, get('/wxa/checksession', { 'x-huge': 'a'.repeat(20_000) }))
    expect([res.status, res.headers['content-type']]).toEqual([200, WECHAT_JSON])
    expect(JSON.parse(res.body.toString())).toMatchObject({ errcode: 47001 })
  })
})
