/**
 * BrokerTokenProvider against the real wxbroker daemon (one `wxbroker serve` process for the file,
 * in-memory store, WeChat = the simulator). Counts come from the outside: the broker's /metrics and
 * the simulator's call log. Faults a real broker cannot be made to show on cue (a 503, a proxy
 * 5xx, a delayed or replayed answer) are in broker-token-provider-faults.test.ts, on the stub.
 */
import { describe, expect, it } from 'vitest'
import {
  BrokerTokenProvider,
  type BrokerTokenProviderOptions,
} from '../src/broker-token-provider.js'
import { InvalidInputError, type BrokerError } from '../src/errors.js'
import { API_KEY, APPID, countingFetch, deadUrl, rejection, useSim } from './helpers/fixtures.js'
import {
  INVALIDATE_ROUTE,
  LOGIN_ROUTE,
  TOKEN_ROUTE,
  invalidationRefreshes,
  useRealBroker,
} from './helpers/real-broker.js'

const sim = useSim()
const broker = useRealBroker(() => ({ wechatUrl: sim().url }))

function provider(options: Partial<BrokerTokenProviderOptions> = {}): BrokerTokenProvider {
  return new BrokerTokenProvider({
    baseUrl: broker().url,
    apiKey: API_KEY,
    appid: APPID,
    ...options,
  })
}

/** Runs `action` and returns how many requests the broker answered on `route` meanwhile. */
async function requestsDuring(route: string, action: () => Promise<unknown>): Promise<number> {
  const before = await broker().requests(route)
  await action()
  return (await broker().requests(route)) - before
}

describe('BrokerTokenProvider on the real broker: caching and coalescing', () => {
  it("caches the token until the broker's expires_in minus the skew margin (injected clock)", async () => {
    const raw = await fetch(`${broker().url}/v1/apps/${APPID}/token`, {
      headers: { authorization: `Bearer ${API_KEY}` },
    })
    const { expires_in: expiresIn } = (await raw.json()) as { expires_in: number }
    expect(expiresIn).toBeGreaterThan(600)
    let now = 1_700_000_000_000
    const tokens = provider({ clock: () => now, skewSeconds: 30 })
    const counted = await requestsDuring(TOKEN_ROUTE, async () => {
      const first = await tokens.getToken()
      expect(await tokens.getToken()).toBe(first)
      now += (expiresIn - 30 - 60) * 1000
      expect(await tokens.getToken()).toBe(first)
    })
    expect(counted).toBe(1)
    now += 120 * 1000
    expect(await requestsDuring(TOKEN_ROUTE, () => tokens.getToken())).toBe(1)
  })

  it('turns 1000 concurrent getToken() on a cold cache into one HTTP request', async () => {
    const tokens = provider()
    let all: string[] = []
    const counted = await requestsDuring(TOKEN_ROUTE, async () => {
      all = await Promise.all(Array.from({ length: 1000 }, () => tokens.getToken()))
    })
    expect(all).toHaveLength(1000)
    expect(new Set(all).size).toBe(1)
    expect(counted).toBe(1)
  })

  it('fails over from a URL that refuses connections and then sticks to the one that works', async () => {
    let now = 0
    const dead = await deadUrl()
    const { fetch, origins } = countingFetch()
    const tokens = provider({
      baseUrl: undefined,
      baseUrls: [dead, broker().url],
      fetch,
      clock: () => now,
    })
    expect(await tokens.getToken()).toMatch(/\S/)
    expect(origins).toEqual([dead, broker().url])
    now += 10_000_000 // past expiry: fetch again
    await tokens.getToken()
    expect(origins).toEqual([dead, broker().url, broker().url])
  })
})

describe('BrokerTokenProvider on the real broker: invalidate', () => {
  it('reports a failed token once however many callers report it; the broker refreshes once', async () => {
    const tokens = provider()
    const old = await tokens.getToken()
    await sim().admin.retireToken(APPID, 'stable') // the token really fails now
    const refreshesBefore = await invalidationRefreshes(broker())
    const reports = await requestsDuring(INVALIDATE_ROUTE, () =>
      Promise.all(Array.from({ length: 50 }, () => tokens.invalidate(old, 40001)))
    )
    expect(reports).toBe(1)
    expect((await invalidationRefreshes(broker())) - refreshesBefore).toBe(1)
    let fresh = ''
    // The invalidate answer carried the new token: no token request follows.
    expect(
      await requestsDuring(TOKEN_ROUTE, async () => {
        fresh = await tokens.getToken()
      })
    ).toBe(0)
    expect(fresh).not.toBe(old)
    expect((await sim().admin.checkToken(fresh)).valid).toBe(true)
    expect(await requestsDuring(INVALIDATE_ROUTE, () => tokens.invalidate(old, 40001))).toBe(0)
  })

  it('sends nothing for a token it has already replaced', async () => {
    const first = provider()
    const old = await first.getToken()
    await sim().admin.retireToken(APPID, 'stable')
    const second = provider()
    const reports = await requestsDuring(INVALIDATE_ROUTE, async () => {
      await first.invalidate(old, 42001)
      expect(await second.getToken()).not.toBe(old) // caches the new token
      await second.invalidate(old, 40001)
    })
    expect(reports).toBe(1)
  })
})

describe('BrokerTokenProvider on the real broker: code2Session', () => {
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
    const counted = await requestsDuring(LOGIN_ROUTE, async () => {
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
    })
    expect(counted).toBe(3)
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
    let error: Error | undefined
    const counted = await requestsDuring(LOGIN_ROUTE, async () => {
      error = await rejection(provider().code2Session('code-e'))
    })
    expect(error).toMatchObject({
      name: 'BrokerError',
      status: 502,
      code: 'wechat_error',
      errcode: -1,
    })
    expect((error as BrokerError).retryable).toBe(true)
    expect(counted).toBe(1)
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
