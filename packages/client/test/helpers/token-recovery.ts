/** The token-recovery scenario of issue 5, shared by the one-broker and two-replica tests. */
import type { Simulator } from '@wxbroker/wechat-sim'
import { BrokerTokenProvider } from '../../src/broker-token-provider.js'
import { MiniProgramClient } from '../../src/mini-program-client.js'
import { API_KEY, APPID, callCount, upstreamTokenCalls } from './fixtures.js'

export interface Service {
  tokens: BrokerTokenProvider
  client: MiniProgramClient
}

/** A sibling service: a token provider on `brokerUrls` (in order) and a client on the simulator. */
export function service(brokerUrls: string[], wechatUrl: string, apiKey = API_KEY): Service {
  const tokens = new BrokerTokenProvider({ baseUrls: brokerUrls, apiKey, appid: APPID })
  const client = new MiniProgramClient({
    appid: APPID,
    tokens,
    baseUrl: wechatUrl,
    retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 },
  })
  return { tokens, client }
}

export interface Recovery {
  /** The token every service held before. */
  retired: string
  /** The token each service holds after. */
  fresh: string[]
  /** WeChat calls the simulator served for the services' requests. */
  wechatCalls: number
  /** Upstream token calls (refreshes) the simulator served meanwhile. */
  upstreamRefreshes: number
}

// generatescheme, not openapi/quota/get: the broker calls quota/get itself to reconcile its quota.
const ENDPOINT = '/wxa/generatescheme'

/**
 * Warms every service's cache, retires the token in the simulator, then makes `calls` concurrent
 * WeChat calls spread over the services; every one must succeed.
 */
export async function recoverFromRetiredToken(
  sim: Simulator,
  services: Service[],
  calls: number
): Promise<Recovery> {
  const held = await Promise.all(services.map((s) => s.tokens.getToken()))
  if (new Set(held).size !== 1) throw new Error(`services hold ${new Set(held).size} tokens`)
  await sim.admin.retireToken(APPID, 'stable')
  const callsBefore = await callCount(sim, ENDPOINT)
  const upstreamBefore = await upstreamTokenCalls(sim)
  await Promise.all(
    Array.from({ length: calls }, (_, i) =>
      services[i % services.length]!.client.urlScheme.generate({})
    )
  )
  return {
    retired: held[0]!,
    fresh: await Promise.all(services.map((s) => s.tokens.getToken())),
    wechatCalls: (await callCount(sim, ENDPOINT)) - callsBefore,
    upstreamRefreshes: (await upstreamTokenCalls(sim)) - upstreamBefore,
  }
}
