/**
 * BrokerTokenProvider against broker answers the real daemon cannot be made to give on cue: a
 * delayed answer, a 503 with Retry-After, a proxy's 5xx without the broker's envelope, a slow
 * answer carrying a token already reported, a 500 on a report. These run on the stub
 * (helpers/broker-stub.ts), which injects them; everything else runs on the real broker
 * (broker-token-provider.test.ts, broker-failover.test.ts, through-broker.test.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import {
  BrokerTokenProvider,
  type BrokerTokenProviderOptions,
} from '../src/broker-token-provider.js'
import { BrokerError, TransportError } from '../src/errors.js'
import type { BrokerStub } from './helpers/broker-stub.js'
import { API_KEY, APPID, rejection, useSim, startStub } from './helpers/fixtures.js'

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

describe('BrokerTokenProvider: a slow or silent broker (stub)', () => {
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

describe('BrokerTokenProvider: failover on 5xx answers (stub)', () => {
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
})

describe('BrokerTokenProvider: invalidate races and failures (stub)', () => {
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

describe('BrokerTokenProvider: a report the broker answers with the same token (stub)', () => {
  it('uses a kept token for a short while only, and reports it again when it fails again', async () => {
    let now = 1_700_000_000_000
    const tokens = provider({ clock: () => now })
    const token = await tokens.getToken()
    // A cooldown (or a daily bound) held the refresh back: the broker answers with the same token.
    stub.inject({
      status: 200,
      body: {
        refreshed: false,
        reason: 'cooldown',
        appid: APPID,
        access_token: token,
        expires_in: 7000,
        expires_at: new Date(now + 7_000_000).toISOString(),
      },
    })
    const before = stub.counts.total
    await tokens.invalidate(token, 40001)
    expect(stub.counts.total).toBe(before + 1) // the injected answer (not counted per route)
    const asked = stub.counts.token
    expect(await tokens.getToken()).toBe(token)
    expect(stub.counts.token).toBe(asked)
    // Not for its 7000 s: after a few seconds the provider asks the broker again...
    now += 11_000
    await tokens.getToken()
    expect(stub.counts.token).toBe(asked + 1)
    // ...and a failure of the same token is reported again (the first report is not remembered).
    await tokens.invalidate(token, 40001)
    expect(stub.counts.invalidate).toBe(1)
  })
})
