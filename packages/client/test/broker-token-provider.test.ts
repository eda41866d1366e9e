import { inspect } from 'node:util'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  BrokerTokenProvider,
  type BrokerTokenProviderOptions,
} from '../src/broker-token-provider.js'
import { BrokerError, InvalidInputError, TransportError } from '../src/errors.js'
import type { BrokerStub } from './helpers/broker-stub.js'
import {
  API_KEY,
  APPID,
  READ_ONLY_KEY,
  countingFetch,
  deadUrl,
  rejection,
  useSim,
  startStub,
} from './helpers/fixtures.js'

const sim = useSim()
let stub: BrokerStub
const extra: BrokerStub[] = []

beforeEach(async () => {
  stub = await startStub(sim())
})
afterEach(async () => {
  await stub.close()
  for (const s of extra.splice(0)) await s.close()
})

function provider(options: Partial<BrokerTokenProviderOptions> = {}): BrokerTokenProvider {
  return new BrokerTokenProvider({
    baseUrl: stub.url,
    apiKey: API_KEY,
    appid: APPID,
    ...options,
  })
}

describe('BrokerTokenProvider: caching and coalescing', () => {
  it('caches the token until expires_in minus the skew margin (injected clock)', async () => {
    let now = 1_700_000_000_000
    const tokens = provider({ clock: () => now, skewSeconds: 30 })
    const first = await tokens.getToken()
    expect(await tokens.getToken()).toBe(first)
    expect(stub.counts.token).toBe(1)
    // The stub hands out WeChat's 7200 s minus its 300 s lead: ~6900 s of safe use.
    now += (6900 - 30 - 60) * 1000
    await tokens.getToken()
    expect(stub.counts.token).toBe(1)
    now += 120 * 1000
    await tokens.getToken()
    expect(stub.counts.token).toBe(2)
  })

  it('turns 1000 concurrent getToken() on a cold cache into one request', async () => {
    const tokens = provider()
    const all = await Promise.all(Array.from({ length: 1000 }, () => tokens.getToken()))
    expect(new Set(all).size).toBe(1)
    expect(stub.counts.token).toBe(1)
  })

  it('lets an aborted caller stop waiting while the shared request serves the others', async () => {
    const tokens = provider()
    stub.inject({ delayMs: 300 })
    const controller = new AbortController()
    const aborted = tokens.getToken({ signal: controller.signal })
    const patient = tokens.getToken()
    setTimeout(() => controller.abort(), 30)
    const error = await rejection(aborted)
    expect(error.name).toBe('AbortError')
    expect(await patient).toMatch(/\S/)
    expect(stub.counts.token).toBe(1)
  })

  it('times out a broker that does not answer', async () => {
    stub.inject({ delayMs: 3000 })
    const tokens = provider({ timeoutMs: 150, retry: { retries: 0 } })
    const started = Date.now()
    const error = await rejection(tokens.getToken())
    expect(error).toBeInstanceOf(TransportError)
    expect((error as TransportError).kind).toBe('timeout')
    expect(Date.now() - started).toBeLessThan(1500)
  })
})

describe('BrokerTokenProvider: failover', () => {
  it('fails over from a URL that refuses connections and then sticks to the one that works', async () => {
    let now = 0
    const dead = await deadUrl()
    const { fetch, origins } = countingFetch()
    const tokens = provider({
      baseUrl: undefined,
      baseUrls: [dead, stub.url],
      fetch,
      clock: () => now,
    })
    expect(await tokens.getToken()).toMatch(/\S/)
    expect(origins).toEqual([dead, stub.url])
    now += 10_000_000 // past expiry: fetch again
    await tokens.getToken()
    expect(origins).toEqual([dead, stub.url, stub.url])
  })

  it('fails over on 503 and on a 5xx without the broker envelope, keeping Retry-After', async () => {
    const second = await startStub(sim())
    extra.push(second)
    stub.inject({
      status: 503,
      body: {
        error: {
          code: 'no_token',
          message: 'no valid token',
          request_id: 'r-1',
        },
      },
      headers: { 'retry-after': '7' },
    })
    const tokens = provider({
      baseUrls: [stub.url, second.url],
      baseUrl: undefined,
    })
    expect(await tokens.getToken()).toMatch(/\S/)
    expect(second.counts.token).toBe(1)

    // Both down: the last error surfaces, carrying the status and Retry-After.
    stub.inject({ status: 502, body: 'Bad Gateway (proxy)', times: 3 })
    second.inject({
      status: 503,
      body: {
        error: {
          code: 'no_token',
          message: 'no valid token',
          request_id: 'r-2',
        },
      },
      headers: { 'retry-after': '7' },
      times: 3,
    })
    const lonely = provider({
      baseUrls: [stub.url, second.url],
      baseUrl: undefined,
      retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 2 },
    })
    const error = await rejection(lonely.getToken())
    expect(error).toBeInstanceOf(BrokerError)
    expect(error).toMatchObject({
      status: 503,
      code: 'no_token',
      requestId: 'r-2',
      retryAfterSeconds: 7,
    })
    expect(stub.counts.total + second.counts.total).toBe(1 + 1 + 2 + 2)
  })

  it('does not fail over or retry on 401, 403 and 404, and names the cause', async () => {
    const second = await startStub(sim())
    extra.push(second)
    const both = { baseUrls: [stub.url, second.url], baseUrl: undefined }

    const unauthorized = await rejection(provider({ ...both, apiKey: 'wrong-key' }).getToken())
    expect(unauthorized).toMatchObject({
      name: 'BrokerError',
      status: 401,
      code: 'unauthorized',
    })
    expect((unauthorized as BrokerError).requestId).toMatch(/\S/)
    expect(inspect(unauthorized)).not.toContain('wrong-key')

    const forbidden = await rejection(
      provider({ ...both, apiKey: READ_ONLY_KEY }).invalidate('some-token', 40001)
    )
    expect(forbidden).toMatchObject({
      status: 403,
      code: 'forbidden',
      retryable: false,
    })

    const unknown = await rejection(provider({ ...both, appid: 'wx_unknown' }).getToken())
    expect(unknown).toMatchObject({ status: 404 })
    expect(second.counts.total).toBe(0)
  })
})

describe('BrokerTokenProvider: invalidate', () => {
  it('reports a failed token once however many callers report it', async () => {
    const tokens = provider()
    const old = await tokens.getToken()
    await Promise.all(Array.from({ length: 50 }, () => tokens.invalidate(old, 40001)))
    expect(stub.counts.invalidate).toBe(1)
    expect(stub.counts.refreshes).toBe(2)
    const fresh = await tokens.getToken()
    expect(fresh).not.toBe(old)
    expect(stub.counts.token).toBe(1) // the invalidate answer carried the new token
    await tokens.invalidate(old, 40001)
    expect(stub.counts.invalidate).toBe(1)
  })

  it('sends nothing for a token it has already replaced', async () => {
    const first = provider()
    const old = await first.getToken()
    await first.invalidate(old, 42001)
    const second = provider()
    await second.getToken() // caches the new token
    await second.invalidate(old, 40001)
    expect(stub.counts.invalidate).toBe(1)
  })

  it('keeps the replacement when a slow answer brings back a reported token', async () => {
    let now = 0
    const tokens = provider({ clock: () => now })
    const old = await tokens.getToken()
    now += 10_000_000 // expired: the next getToken() fetches
    stub.inject({
      status: 200,
      body: { appid: APPID, access_token: old, expires_in: 6000, expires_at: '' },
      delayMs: 200,
    })
    const slow = tokens.getToken()
    await new Promise((resolve) => setTimeout(resolve, 20))
    await tokens.invalidate(old, 40001)
    expect(await slow).not.toBe(old) // even the slow caller gets the replacement
    expect(await tokens.getToken()).not.toBe(old)
  })

  it('lets a failed report be sent again', async () => {
    const tokens = provider({ retry: { retries: 0 } })
    const old = await tokens.getToken()
    stub.inject({ status: 500, body: 'boom' })
    await expect(tokens.invalidate(old, 40001)).rejects.toThrow(TransportError)
    await tokens.invalidate(old, 40001)
    expect(await tokens.getToken()).not.toBe(old)
  })
})

describe('BrokerTokenProvider: code2Session through the broker', () => {
  it('exchanges a login code, with unionid when WeChat sends it', async () => {
    await sim().admin.registerLoginCode({
      appid: APPID,
      code: 'code-a',
      openid: 'o-a',
      unionid: 'u-a',
    })
    const result = await provider().code2Session('code-a')
    expect(result).toMatchObject({ openid: 'o-a', unionid: 'u-a' })
    expect(result.session_key).toMatch(/^[A-Za-z0-9+/]{22}==$/)
  })

  it('surfaces login errcodes with their own status, without retrying the one-use code', async () => {
    await sim().admin.registerLoginCode({
      appid: APPID,
      code: 'code-b',
      openid: 'o-b',
    })
    await provider().code2Session('code-b')
    const reused = await rejection(provider().code2Session('code-b'))
    expect(reused).toMatchObject({
      name: 'BrokerError',
      status: 409,
      code: 'code_used',
      errcode: 40163,
    })
    expect((reused as BrokerError).rid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/)
    const unknown = await rejection(provider().code2Session('code-never-issued'))
    expect(unknown).toMatchObject({
      status: 400,
      code: 'invalid_code',
      errcode: 40029,
    })
    expect(stub.counts.jscode2session).toBe(3)
  })

  it('relays other WeChat errors as a 502 carrying errcode, retryable only for -1', async () => {
    await sim().admin.registerLoginCode({
      appid: APPID,
      code: 'code-e',
      openid: 'o-e',
    })
    await sim().admin.addFault({
      endpoint: '/sns/jscode2session',
      errcode: -1,
      times: 1,
    })
    const error = await rejection(provider().code2Session('code-e'))
    expect(error).toMatchObject({
      name: 'BrokerError',
      status: 502,
      code: 'wechat_error',
      errcode: -1,
    })
    expect((error as BrokerError).retryable).toBe(true)
    expect(stub.counts.jscode2session).toBe(1)
  })

  it('moves to another broker only when the request was never delivered', async () => {
    await sim().admin.registerLoginCode({
      appid: APPID,
      code: 'code-c',
      openid: 'o-c',
    })
    const dead = await deadUrl()
    const viaDead = provider({
      baseUrls: [dead, stub.url],
      baseUrl: undefined,
    })
    expect((await viaDead.code2Session('code-c')).openid).toBe('o-c')

    const second = await startStub(sim())
    extra.push(second)
    stub.inject({ delayMs: 2000 })
    const slow = provider({
      baseUrls: [stub.url, second.url],
      baseUrl: undefined,
      timeoutMs: 150,
    })
    const error = await rejection(slow.code2Session('code-d'))
    expect(error).toMatchObject({ name: 'TransportError', kind: 'timeout' })
    expect(second.counts.total).toBe(0)
  })
})

describe('BrokerTokenProvider: options', () => {
  it.each([
    [{ baseUrl: undefined }, 'baseUrl'],
    [{ baseUrl: 'ftp://x' }, 'baseUrl'],
    [{ baseUrl: 'http://x/?token=1' }, 'baseUrl'],
    [{ baseUrl: undefined, baseUrls: ['http://ok', 'nope'] }, 'baseUrls[1]'],
    [{ apiKey: '' }, 'apiKey'],
    [{ appid: '' }, 'appid'],
    [{ timeoutMs: 0 }, 'timeoutMs'],
    [{ retry: { retries: -1 } }, 'retry.retries'],
  ])('rejects %j naming %s', (bad, field) => {
    const make = (): BrokerTokenProvider =>
      new BrokerTokenProvider({
        baseUrl: 'http://127.0.0.1:1',
        apiKey: API_KEY,
        appid: APPID,
        ...(bad as Partial<BrokerTokenProviderOptions>),
      })
    expect(make).toThrow(InvalidInputError)
    expect(make).toThrow(new RegExp(`^${field.replace(/[[\]]/g, '\\$&')}: `))
    try {
      make()
    } catch (error) {
      expect((error as Error).message).not.toContain(API_KEY)
    }
  })
})
