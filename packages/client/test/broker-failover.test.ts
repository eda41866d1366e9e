/**
 * Two real `wxbroker serve` replicas sharing one redis-server (both started by the test): clients
 * with both URLs recover from a retired token with one upstream refresh across the replicas, do
 * not fail over on 4xx, and fail over to the survivor when one replica is SIGKILLed.
 */
import { startRedis, type RedisServer } from '@wxbroker/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  BrokerTokenProvider,
  type BrokerTokenProviderOptions,
} from '../src/broker-token-provider.js'
import type { BrokerError } from '../src/errors.js'
import {
  API_KEY,
  APPID,
  READ_ONLY_KEY,
  countingFetch,
  deadUrl,
  rejection,
  upstreamTokenCalls,
  useSim,
} from './helpers/fixtures.js'
import {
  INVALIDATE_ROUTE,
  LOGIN_ROUTE,
  TOKEN_ROUTE,
  invalidationRefreshes,
  useRealBroker,
  type RealBroker,
} from './helpers/real-broker.js'
import { recoverFromRetiredToken, service } from './helpers/token-recovery.js'

const sim = useSim()
let redis: RedisServer & { stopAll: () => Promise<void> }
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(async () => {
  await redis?.stopAll()
})
// After hooks run in reverse: both brokers stop before their Redis does.
const first = useRealBroker(() => ({ wechatUrl: sim().url, redisUrl: redis.url }))
const second = useRealBroker(() => ({ wechatUrl: sim().url, redisUrl: redis.url }))

function provider(
  baseUrls: string[],
  options: Partial<BrokerTokenProviderOptions> = {}
): BrokerTokenProvider {
  return new BrokerTokenProvider({ baseUrls, apiKey: API_KEY, appid: APPID, ...options })
}

async function sum(
  brokers: RealBroker[],
  count: (b: RealBroker) => Promise<number>
): Promise<number> {
  let total = 0
  for (const b of brokers) total += await count(b)
  return total
}

describe('two real brokers on one Redis', () => {
  it('200 concurrent calls from 4 clients over both replicas recover with one refresh in all', async () => {
    const both = [first(), second()]
    // Half the clients prefer each replica.
    const services = Array.from({ length: 4 }, (_, i) =>
      service(i % 2 === 0 ? [first().url, second().url] : [second().url, first().url], sim().url)
    )
    const reportsBefore = await sum(both, (b) => b.requests(INVALIDATE_ROUTE))
    const refreshesBefore = await sum(both, invalidationRefreshes)
    const recovery = await recoverFromRetiredToken(sim(), services, 200)
    // Every call failed once with the retired token and succeeded once with the new one.
    expect(recovery.wechatCalls).toBe(400)
    // One report per client; one refresh across both replicas (lock + double check).
    expect((await sum(both, (b) => b.requests(INVALIDATE_ROUTE))) - reportsBefore).toBe(4)
    expect((await sum(both, invalidationRefreshes)) - refreshesBefore).toBe(1)
    expect(recovery.upstreamRefreshes).toBe(1)
    expect(new Set(recovery.fresh).size).toBe(1)
    expect(recovery.fresh[0]).not.toBe(recovery.retired)
  })

  it('does not fail over or retry on 401, 403 and 404, and names the cause', async () => {
    const urls = [first().url, second().url]
    const secondBefore = await second().apiRequests()

    const unauthorized = await rejection(provider(urls, { apiKey: 'wrong-key' }).getToken())
    expect(unauthorized).toMatchObject({ name: 'BrokerError', status: 401, code: 'unauthorized' })
    expect((unauthorized as BrokerError).requestId).toMatch(/\S/)
    expect(JSON.stringify(unauthorized)).not.toContain('wrong-key')

    const forbidden = await rejection(
      provider(urls, { apiKey: READ_ONLY_KEY }).invalidate('some-token', 40001)
    )
    expect(forbidden).toMatchObject({ status: 403, code: 'forbidden', retryable: false })

    // A key allowed every app learns that this one is not configured.
    const unknownApp = 'wx00000000000000ff'
    const unknown = await rejection(
      provider(urls, { apiKey: READ_ONLY_KEY, appid: unknownApp }).getToken()
    )
    expect(unknown).toMatchObject({ status: 404, code: 'unknown_app' })
    expect((await second().apiRequests()) - secondBefore).toBe(0)
  })

  it('moves code2Session to another broker only when the request was never delivered', async () => {
    await sim().admin.registerLoginCode({ appid: APPID, code: 'code-c', openid: 'o-c' })
    const viaDead = provider([await deadUrl(), first().url])
    expect((await viaDead.code2Session('code-c')).openid).toBe('o-c')

    // A stopped process: the kernel accepts the connection, nobody answers.
    const secondBefore = await second().requests(LOGIN_ROUTE)
    first().process.proc.child.kill('SIGSTOP')
    try {
      const slow = provider([first().url, second().url], { timeoutMs: 150 })
      const error = await rejection(slow.code2Session('code-d'))
      expect(error).toMatchObject({ name: 'TransportError', kind: 'timeout' })
    } finally {
      first().process.proc.child.kill('SIGCONT')
    }
    expect((await second().requests(LOGIN_ROUTE)) - secondBefore).toBe(0)
  })

  it('fails over to the surviving replica when one is SIGKILLed, with the same token', async () => {
    let now = 0
    const { fetch, origins } = countingFetch()
    const tokens = provider([first().url, second().url], { fetch, clock: () => now })
    const before = await tokens.getToken()
    expect(origins).toEqual([first().url])
    const upstreamBefore = await upstreamTokenCalls(sim())
    const servedBefore = await second().requests(TOKEN_ROUTE)

    await first().process.proc.stop('SIGKILL')
    now += 10_000_000 // past expiry: fetch again
    expect(await tokens.getToken()).toBe(before) // the shared token, from the survivor
    expect(origins).toEqual([first().url, first().url, second().url])
    now += 10_000_000
    await tokens.getToken()
    expect(origins.slice(3)).toEqual([second().url]) // sticks to the replica that answered
    expect((await second().requests(TOKEN_ROUTE)) - servedBefore).toBe(2)
    expect((await upstreamTokenCalls(sim())) - upstreamBefore).toBe(0)
  })
})
