import type { MiddlewareHandler } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import type { BrokerEnv } from './env.js'
import { ApiError } from './errors.js'

/**
 * 413 above the configured size. Used as route middleware on routes with a body only: reading
 * `body` on a GET would make node-server build a full Request object for nothing.
 */
export function limitBody(maxSize: number): MiddlewareHandler<BrokerEnv> {
  return bodyLimit({
    maxSize,
    onError: () => {
      throw new ApiError(413, 'payload_too_large', `request body exceeds ${maxSize} bytes`)
    },
  })
}
