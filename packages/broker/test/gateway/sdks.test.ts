import { createRequire } from 'node:module'
import { registerSubscriber } from '@wxbroker/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS } from '../support/harness.js'
import {
  APP1,
  APP2,
  GW_KEYS,
  SECRET1,
  SECRET2,
  startGateway,
  type GatewayHarness,
} from './support.js'

// Real SDKs from npm, unchanged but for their base URL (issue #12): node-easywechat 3.6 and
// co-wechat-api 3.11 run login, subscribe-message, wxacode (image bytes) and msg_sec_check
// through the gateway, with the simulator as WeChat; a token revoked at WeChat is recovered
// without an error reaching the SDK's caller. Then no credential may appear in any log line or
// metric label of the whole run.

const require = createRequire(import.meta.url)

interface EasyResponse {
  toObject(): Record<string, unknown>
  getContent(): Buffer
  is(type: string): boolean
}
interface EasyClient {
  postJson(url: string, data: unknown, options?: Record<string, unknown>): Promise<EasyResponse>
}
interface EasyApp {
  setCache(cache: unknown): void
  getAccessToken(): { setKey(key: string): void; getToken(): Promise<string> }
  getClient(): EasyClient
  getUtils(): { codeToSession(code: string): Promise<Record<string, unknown>> }
}
const { MiniApp, CacheInterface } = require('node-easywechat') as {
  MiniApp: new (config: Record<string, unknown>) => EasyApp
  CacheInterface: new () => object
}

interface CoWechatApi {
  prefix: string
  snsPrefix: string
  wxaPrefix: string
  code2Session(code: string): Promise<Record<string, unknown>>
  sendSubscribeMessage(
    openid: string,
    templateId: string,
    page: string | undefined,
    data: Record<string, { value: string }>
  ): Promise<Record<string, unknown>>
  getWXACodeUnlimit(scene: string): Promise<Buffer>
  ensureAccessToken(): Promise<{ accessToken: string }>
  request(url: string, opts: Record<string, unknown>): Promise<Record<string, unknown>>
}
const WechatAPI = require('co-wechat-api') as new (
  appid: string,
  secret: string,
  getToken?: () => Promise<unknown>,
  saveToken?: (token: unknown) => Promise<void>
) => CoWechatApi

/** co-wechat-api with its token kept in memory (the getToken/saveToken pair it asks for). */
function coWechatApi(appid: string, key: string): CoWechatApi {
  let store: unknown = null
  return new WechatAPI(
    appid,
    key,
    async () => store,
    async (token) => {
      store = token
    }
  )
}

const OPENID = 'o-sdk-user'
const TEMPLATE = 'tpl-sdk'

/** node-easywechat's cache interface, in memory (what a test needs of it). */
function memoryCache(): object {
  const entries = new Map<string, { value: unknown; expiresAt: number }>()
  const cache = Object.create(CacheInterface.prototype as object) as Record<string, unknown>
  Object.assign(cache, {
    get: async (key: string) => {
      const e = entries.get(key)
      return e && (e.expiresAt === 0 || e.expiresAt > Date.now()) ? e.value : null
    },
    has: async (key: string) => entries.has(key),
    set: async (key: string, value: unknown, lifetime = 0) => {
      entries.set(key, { value, expiresAt: lifetime > 0 ? Date.now() + lifetime * 1000 : 0 })
      return true
    },
    delete: async (key: string) => entries.delete(key),
  })
  return cache
}

describe('real SDKs through the gateway', () => {
  let h: GatewayHarness
  /** Every session_key WeChat handed out in this run (searched for in the logs at the end). */
  const sessionKeys: string[] = []
  beforeAll(async () => {
    h = await startGateway({
      apps: { [APP1]: { invalidateCooldownSeconds: 0 }, [APP2]: { invalidateCooldownSeconds: 0 } },
      beforeBroker: async (sim) => {
        await registerSubscriber(sim.admin, {
          appid: APP1,
          openid: OPENID,
          templateId: TEMPLATE,
          count: 100,
        })
        for (let i = 1; i <= 6; i++) {
          await sim.admin.registerLoginCode({ appid: APP1, code: `sdk-code-${i}`, openid: OPENID })
        }
      },
    })
  })
  afterAll(() => h.close())

  for (const [mode, key, stable] of [
    ['real token, classic fetch', GW_KEYS.sdk, false],
    ['alias token, stable fetch', GW_KEYS.alias, true],
  ] as const) {
    it(`node-easywechat (http.baseURL only; ${mode}): login, subscribe message, wxacode image, msg_sec_check, a revoked token`, async () => {
      const app = new MiniApp({
        app_id: APP1,
        secret: key,
        use_stable_access_token: stable,
        http: { baseURL: `${h.gw}/` },
      })
      app.setCache(memoryCache())
      app.getAccessToken().setKey(`mini_app.access_token.${APP1}`)
      const client = app.getClient()

      const session = await app.getUtils().codeToSession(stable ? 'sdk-code-2' : 'sdk-code-1')
      expect(session.openid).toBe(OPENID)
      sessionKeys.push(session.session_key as string)

      const send = () =>
        client.postJson('/cgi-bin/message/subscribe/send', {
          touser: OPENID,
          template_id: TEMPLATE,
          data: { thing1: { value: 'hello' } },
        })
      expect((await send()).toObject()).toEqual({ errcode: 0, errmsg: 'ok' })

      const image = await client.postJson(
        '/wxa/getwxacodeunlimit',
        { scene: 'a=1' },
        { responseType: 'arraybuffer' }
      )
      expect(image.is('image')).toBe(true)
      expect(image.getContent().subarray(0, 3).toString('hex')).toBe('ffd8ff')
      const imageError = await client.postJson(
        '/wxa/getwxacodeunlimit',
        { scene: '' },
        { responseType: 'arraybuffer' }
      )
      expect(imageError.is('json')).toBe(true)
      expect((JSON.parse(imageError.getContent().toString()) as { errcode: number }).errcode).toBe(
        40169
      )

      const sec = await client.postJson('/wxa/msg_sec_check', {
        content: 'hello world',
        version: 2,
        scene: 1,
        openid: OPENID,
      })
      expect(sec.toObject()).toMatchObject({ errcode: 0, result: { suggest: 'pass' } })

      // Revoked at WeChat: straight to WeChat, node-easywechat would keep failing with 40001
      // until its cache expires. Through the gateway the caller sees no error at all.
      const cached = await app.getAccessToken().getToken()
      await h.sim.admin.retireToken(APP1, 'stable')
      expect((await send()).toObject()).toEqual({ errcode: 0, errmsg: 'ok' })
      expect((await send()).toObject()).toEqual({ errcode: 0, errmsg: 'ok' })
      // It still holds its old token: the gateway swapped it for the new one.
      expect(await app.getAccessToken().getToken()).toBe(cached)
    })
  }

  it('co-wechat-api (api.prefix, snsPrefix, wxaPrefix): login, subscribe message, wxacode image, msg_sec_check, a revoked token', async () => {
    const api = coWechatApi(APP1, GW_KEYS.sdk)
    api.prefix = `${h.gw}/cgi-bin/`
    api.snsPrefix = `${h.gw}/sns/`
    api.wxaPrefix = `${h.gw}/wxa/`

    const session = await api.code2Session('sdk-code-3')
    expect(session.openid).toBe(OPENID)
    sessionKeys.push(session.session_key as string)

    const send = () =>
      api.sendSubscribeMessage(OPENID, TEMPLATE, undefined, { thing1: { value: 'hi' } })
    expect(await send()).toEqual({ errcode: 0, errmsg: 'ok' })

    const image = await api.getWXACodeUnlimit('a=1')
    expect(Buffer.isBuffer(image)).toBe(true)
    expect(image.subarray(0, 3).toString('hex')).toBe('ffd8ff')
    await expect(api.getWXACodeUnlimit('')).rejects.toMatchObject({
      name: 'WeChatAPIError',
      code: 40169,
    })

    const { accessToken } = await api.ensureAccessToken()
    const sec = await api.request(`${api.wxaPrefix}msg_sec_check?access_token=${accessToken}`, {
      method: 'POST',
      data: JSON.stringify({ content: 'hello world', version: 2, scene: 1, openid: OPENID }),
      headers: { 'Content-Type': 'application/json' },
    })
    expect(sec).toMatchObject({ errcode: 0, result: { suggest: 'pass' } })

    const fetchesBefore = h.logs.filter((l) => l.includes('"route":"/cgi-bin/token"')).length
    await h.sim.admin.retireToken(APP1, 'stable')
    expect(await send()).toEqual({ errcode: 0, errmsg: 'ok' })
    // The SDK never saw the 40001: no refetch of its own.
    expect(h.logs.filter((l) => l.includes('"route":"/cgi-bin/token"')).length).toBe(fetchesBefore)
  })

  it('co-wechat-api with only its token fetch on the gateway: the refetch guard ends its 40001 loop within the call', async () => {
    const api = coWechatApi(APP2, GW_KEYS.app2)
    api.prefix = `${h.gw}/cgi-bin/` // the token fetch (and cgi-bin calls) on the gateway
    api.wxaPrefix = `${h.sim.url}/wxa/` // the code images straight to WeChat
    expect((await api.getWXACodeUnlimit('a=1')).subarray(0, 3).toString('hex')).toBe('ffd8ff')
    // Revoked at WeChat: the SDK gets 40001 straight from WeChat and refetches from the broker,
    // which does not know; at the third fetch of that token the broker checks it and replaces it.
    await h.sim.admin.retireToken(APP2, 'classic')
    expect((await api.getWXACodeUnlimit('a=2')).subarray(0, 3).toString('hex')).toBe('ffd8ff')
  })

  it('no credential in any log line or metric label of the whole run', async () => {
    const metrics = await (await fetch(`${h.url}/metrics`)).text()
    const secrets: string[] = [SECRET1, SECRET2, ...Object.values(GW_KEYS), ...Object.values(KEYS)]
    for (const appid of [APP1, APP2]) {
      for (const kind of ['classic', 'stable'] as const) {
        for (const t of (await h.sim.admin.tokens(appid, kind)).all) secrets.push(t.token)
      }
    }
    expect(secrets.length).toBeGreaterThan(16)
    expect(sessionKeys).toHaveLength(3)
    secrets.push(...sessionKeys)
    const everything = [...h.logs, metrics].join('\n')
    for (const secret of secrets) {
      expect(everything.includes(secret), `a credential (${secret.slice(0, 6)}…) leaked`).toBe(
        false
      )
    }
    // Alias tokens are credentials too.
    expect(everything).not.toContain('wxbt_')
    // The run did exercise the gateway (lines and series exist).
    expect(h.logs.filter((l) => l.includes('"surface":"gateway"')).length).toBeGreaterThan(20)
    expect(metrics).toContain('wxbroker_gateway_requests_total{client="sdk"')
  })
})
