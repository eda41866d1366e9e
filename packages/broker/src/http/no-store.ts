import type { MiddlewareHandler } from 'hono'
import type { BrokerEnv } from './env.js'

/**
 * `Cache-Control: no-store` on every response of the routes it covers, errors included: for
 * answers no cache between the caller and the broker may keep (tokens, session keys, a signed-in
 * page, a Set-Cookie), as RFC 6749 §5.1 asks of token responses. One simple rule, no exceptions.
 */
export const noStore: MiddlewareHandler<BrokerEnv> = async (c, next) => {
  c.header('Cache-Control', 'no-store')
  await next()
}
