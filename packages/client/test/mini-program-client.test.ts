import { beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { sessionKeySignature } from '../src/crypto/signature.js'
import { InvalidInputError, TransportError, WeChatApiError } from '../src/errors.js'
import { MiniProgramClient, type MiniProgramClientOptions } from '../src/mini-program-client.js'
import { StaticTokenProvider } from '../src/token-provider.js'
import { BrokerTokenProvider } from '../src/broker-token-provider.js'
import {
  API_KEY,
  APPID,
  callCount,
  deadUrl,
  rejection,
  simToken,
  useSim,
} from './helpers/fixtures.js'
import { useRealBroker } from './helpers/real-broker.js'

const sim = useSim()
// The WeChat calls take their token from a real wxbroker, as a service's would.
const broker = useRealBroker(() => ({ wechatUrl: sim().url }))
let token: string

beforeEach(async () => {
  await sim().admin.clearFaults()
  token = await simToken(sim())
})

function client(options: Partial<MiniProgramClientOptions> = {}): MiniProgramClient {
  return new MiniProgramClient({
    appid: APPID,
    tokens: new StaticTokenProvider(token),
    baseUrl: sim().url,
    retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 },
    ...options,
  })
}

/** A client whose token comes from the real broker. */
function viaBroker(): MiniProgramClient {
  return client({
    tokens: new BrokerTokenProvider({ baseUrl: broker().url, apiKey: API_KEY, appid: APPID }),
  })
}

async function wechatError(promise: Promise<unknown>): Promise<WeChatApiError> {
  const error = await rejection(promise)
  expect(error).toBeInstanceOf(WeChatApiError)
  return error as WeChatApiError
}

describe('MiniProgramClient against the simulator, with its token from a real broker', () => {
  it('gets a phone number (countryCode as a string) and maps a used code to WeChatApiError', async () => {
    await sim().admin.registerPhoneCode({
      appid: APPID,
      code: 'phone-1',
      phoneNumber: '+86 13800138000',
      purePhoneNumber: '13800138000',
      countryCode: '86',
    })
    const info = await viaBroker().phone.getPhoneNumber('phone-1')
    expect(info).toMatchObject({
      purePhoneNumber: '13800138000',
      countryCode: '86',
    })
    expect(info.watermark.appid).toBe(APPID)
    const error = await wechatError(viaBroker().phone.getPhoneNumber('phone-1'))
    expect(error).toMatchObject({
      errcode: 40029,
      endpoint: '/wxa/business/getuserphonenumber',
    })
    expect(error.rid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/)
    expect(error.retryable).toBe(false)
  })

  describe('subscribeMessage.send', () => {
    const message = {
      touser: 'o-sub',
      template_id: 'tpl-order',
      data: {
        thing1: { value: 'Order shipped' },
        date2: { value: '2026-11-23' },
      },
    }
    beforeAll(async () => {
      await sim().admin.registerUser({ appid: APPID, openid: 'o-sub' })
      await sim().admin.registerTemplate({
        appid: APPID,
        templateId: 'tpl-order',
        fields: { thing1: 'thing', date2: 'date' },
      })
    })

    it('sends when the user has a subscription left, then maps 43101', async () => {
      await sim().admin.grantSubscription({
        appid: APPID,
        openid: 'o-sub',
        templateId: 'tpl-order',
        count: 1,
      })
      await viaBroker().subscribeMessage.send(message)
      const error = await wechatError(viaBroker().subscribeMessage.send(message))
      expect(error.errcode).toBe(43101)
    })

    it.each([
      ['an unknown recipient', { touser: 'o-nobody' }, 40003],
      ['an unknown template', { template_id: 'tpl-none' }, 40037],
      [
        'a thing value over 20 characters',
        {
          data: {
            thing1: { value: 'x'.repeat(21) },
            date2: { value: '2026-11-23' },
          },
        },
        47003,
      ],
      ['an implausible page', { page: '??not a page' }, 41030],
    ])('throws WeChatApiError at once for %s', async (_name, change, errcode) => {
      await sim().admin.grantSubscription({
        appid: APPID,
        openid: 'o-sub',
        templateId: 'tpl-order',
        count: 1,
      })
      const before = await callCount(sim(), '/cgi-bin/message/subscribe/send')
      const error = await wechatError(viaBroker().subscribeMessage.send({ ...message, ...change }))
      expect(error.errcode).toBe(errcode)
      expect(error.endpoint).toBe('/cgi-bin/message/subscribe/send')
      expect(await callCount(sim(), '/cgi-bin/message/subscribe/send')).toBe(before + 1)
      if (errcode === 47003) expect(error.errmsg).toContain('data.thing1.value')
    })
  })

  describe('wxacode', () => {
    function isJpeg(data: Uint8Array): boolean {
      return data[0] === 0xff && data[1] === 0xd8 && data.at(-2) === 0xff && data.at(-1) === 0xd9
    }

    it('returns JPEG bytes with their content type for all three endpoints', async () => {
      const api = viaBroker().wxacode
      for (const image of [
        await api.getUnlimited({ scene: 'id=42', check_path: false }),
        await api.get({ path: 'pages/index/index?id=1' }),
        await api.createQRCode({ path: 'pages/index/index' }),
      ]) {
        expect(image.contentType).toBe('image/jpeg')
        expect(image.data).toBeInstanceOf(Uint8Array)
        expect(isJpeg(image.data)).toBe(true)
      }
    })

    it('turns a JSON error body into WeChatApiError', async () => {
      const error = await wechatError(viaBroker().wxacode.getUnlimited({ scene: 'bad scene <>' }))
      expect(error).toMatchObject({
        errcode: 40129,
        endpoint: '/wxa/getwxacodeunlimit',
      })
    })
  })

  it('checks content with msgSecCheck (label as a number)', async () => {
    await sim().admin.registerUser({ appid: APPID, openid: 'o-sec' })
    await sim().admin.setRiskyKeywords({
      keywords: ['forbidden-word'],
      label: 20006,
    })
    const clean = await viaBroker().security.msgSecCheck({
      content: 'hello',
      scene: 2,
      openid: 'o-sec',
    })
    expect(clean.result.suggest).toBe('pass')
    expect(typeof clean.trace_id).toBe('string')
    const risky = await viaBroker().security.msgSecCheck({
      content: 'this has forbidden-word in it',
      scene: 2,
      openid: 'o-sec',
    })
    expect(risky.result).toEqual({ suggest: 'risky', label: 20006 })
    await expect(
      viaBroker().security.msgSecCheck({
        content: 'x',
        scene: 9 as 1,
        openid: 'o-sec',
      })
    ).rejects.toThrow(/params.scene/)
  })

  it('generates a URL scheme, a URL link and a short link', async () => {
    const c = viaBroker()
    expect(
      (await c.urlScheme.generate({ jump_wxa: { path: 'pages/index/index' } })).openlink
    ).toMatch(/^weixin:\/\//)
    expect((await c.urlLink.generate({ path: 'pages/index/index' })).url_link).toMatch(
      /^https?:\/\//
    )
    expect((await c.shortLink.generate({ page_url: 'pages/index/index?id=1' })).link).toMatch(/\S/)
  })

  it('reads API quota, and passes any endpoint through call()', async () => {
    const quota = await viaBroker().openApi.getApiQuota('/cgi-bin/token')
    expect(quota.quota.used).toBeGreaterThanOrEqual(1)
    expect(quota.quota.daily_limit).toBeGreaterThan(quota.quota.used - 1)
    const raw = await viaBroker().call<{
      errcode: number
      quota: { used: number }
    }>('POST', '/cgi-bin/openapi/quota/get', {
      body: { cgi_path: '/cgi-bin/token' },
    })
    expect(raw.errcode).toBe(0)
    expect(raw.quota.used).toBe(quota.quota.used)
    await expect(viaBroker().call('GET', 'https://evil.example/x')).rejects.toThrow(
      InvalidInputError
    )
    await expect(viaBroker().call('GET', '/x', { query: { access_token: 't' } })).rejects.toThrow(
      /query.access_token/
    )
  })

  it('checks and resets a session key with the HMAC signature', async () => {
    const sessionKey = Buffer.alloc(16, 9).toString('base64')
    await sim().admin.registerUser({ appid: APPID, openid: 'o-key', sessionKey })
    const auth = viaBroker().auth
    expect(await auth.checkSessionKey({ openid: 'o-key', sessionKey })).toBe(true)
    const wrong = Buffer.alloc(16, 1).toString('base64')
    expect(await auth.checkSessionKey({ openid: 'o-key', sessionKey: wrong })).toBe(false)
    const reset = await auth.resetUserSessionKey({
      openid: 'o-key',
      sessionKey,
    })
    expect(reset.openid).toBe('o-key')
    expect(reset.session_key).not.toBe(sessionKey)
    expect(await auth.checkSessionKey({ openid: 'o-key', sessionKey })).toBe(false)
    expect(
      await auth.checkSessionKey({
        openid: 'o-key',
        sessionKey: reset.session_key,
      })
    ).toBe(true)
    expect(sessionKeySignature(sessionKey)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('with a static token provider, code2Session needs a broker (SessionExchanger)', async () => {
    await expect(client().auth.code2Session('code')).rejects.toThrow(/^sessions: /)
  })
})

describe('MiniProgramClient retries and errors', () => {
  const endpoint = '/cgi-bin/openapi/quota/get'
  const quota = (c = client()): Promise<unknown> => c.openApi.getApiQuota('/cgi-bin/token')

  it('retries -1 with backoff and succeeds', async () => {
    await sim().admin.addFault({ endpoint, errcode: -1, times: 2 })
    const before = await callCount(sim(), endpoint)
    await quota()
    expect(await callCount(sim(), endpoint)).toBe(before + 3)
  })

  it('gives up on -1 after the bounded retries', async () => {
    await sim().admin.addFault({ endpoint, errcode: -1, times: -1 })
    const before = await callCount(sim(), endpoint)
    const error = await wechatError(quota())
    expect(error).toMatchObject({ errcode: -1, retryable: true })
    expect(await callCount(sim(), endpoint)).toBe(before + 3)
  })

  it.each([45009, 45011, 40125])('never retries %i', async (errcode) => {
    await sim().admin.addFault({ endpoint, errcode, times: -1 })
    const before = await callCount(sim(), endpoint)
    const error = await wechatError(quota())
    expect(error.errcode).toBe(errcode)
    expect(await callCount(sim(), endpoint)).toBe(before + 1)
  })

  it('retries a 5xx and a dropped connection', async () => {
    await sim().admin.addFault({ endpoint, status: 502, times: 1 })
    await quota()
    await sim().admin.addFault({ endpoint, drop: true, times: 1 })
    await quota()
  })

  it('throws TransportError with the status when 5xx persists', async () => {
    await sim().admin.addFault({ endpoint, status: 503, times: -1 })
    const error = await rejection(quota())
    expect(error).toMatchObject({
      name: 'TransportError',
      kind: 'http',
      status: 503,
      target: endpoint,
    })
  })

  it('times out each attempt, and the caller can abort', async () => {
    await sim().admin.addFault({ endpoint, latency: 2000, times: -1 })
    const started = Date.now()
    const timeout = await rejection(
      quota(client({ timeoutMs: 100, retry: { retries: 1, baseDelayMs: 1 } }))
    )
    expect(timeout).toMatchObject({ name: 'TransportError', kind: 'timeout' })
    expect(Date.now() - started).toBeLessThan(1500)

    const controller = new AbortController()
    setTimeout(() => controller.abort(), 50)
    const aborted = await rejection(
      client().openApi.getApiQuota('/cgi-bin/token', {
        signal: controller.signal,
      })
    )
    expect(aborted.name).toBe('AbortError')
  })

  it('maps a refused connection to a retryable TransportError', async () => {
    const error = await rejection(
      quota(client({ baseUrl: await deadUrl(), retry: { retries: 0 } }))
    )
    expect(error).toMatchObject({
      name: 'TransportError',
      kind: 'connect',
      retryable: true,
    })
  })

  it('with a static token, a retired token fails with 40001 at once (nothing to refresh)', async () => {
    await sim().admin.retireToken(APPID, 'classic')
    const before = await callCount(sim(), endpoint)
    const error = await wechatError(quota())
    expect(error.errcode).toBe(40001)
    expect(await callCount(sim(), endpoint)).toBe(before + 1)
  })

  it('validates its options', () => {
    expect(
      () =>
        new MiniProgramClient({
          appid: '',
          tokens: new StaticTokenProvider('t'),
        })
    ).toThrow(/^appid: /)
    expect(
      () =>
        new MiniProgramClient({
          appid: APPID,
          tokens: {} as StaticTokenProvider,
        })
    ).toThrow(/^tokens: /)
    expect(() => client({ timeoutMs: -5 })).toThrow(/^timeoutMs: /)
    expect(TransportError).toBeDefined()
  })
})
