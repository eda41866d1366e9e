import { randomUUID } from 'node:crypto'
import type { MiddlewareHandler } from 'hono'
import type { BrokerEnv } from './env.js'

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Echoes a well-formed X-Request-Id or generates one; it goes into every log line and error body. */
export function requestId(): MiddlewareHandler<BrokerEnv> {
  return async (c, next) => {
    const given = c.req.header('x-request-id')
    const id = given !== undefined && SAFE_ID.test(given) ? given : randomUUID()
    c.set('requestId', id)
    c.header('X-Request-Id', id)
    await next()
  }
}
