import { createRoute, z } from '@hono/zod-openapi'
import { Authenticator, bearerToken } from '../../policy/authenticator.js'
import type { BrokerApp, RouteDeps } from '../deps.js'
import { ApiError } from '../errors.js'
import { errorResponses } from '../schemas.js'

export function registerMetricsRoute(app: BrokerApp, deps: RouteDeps): void {
  const { keyHash } = deps.config.metrics
  const route = createRoute({
    method: 'get',
    path: '/metrics',
    summary:
      'Prometheus metrics (text format); bearer key only when metrics.keySha256 is configured',
    responses: {
      200: {
        description: 'Prometheus exposition',
        content: { 'text/plain': { schema: z.string() } },
      },
      ...errorResponses(401),
    },
  })
  app.openapi(route, async (c) => {
    if (keyHash) {
      const key = bearerToken(c.req.header('authorization'))
      if (key === undefined || !Authenticator.matches(key, keyHash)) {
        throw new ApiError(401, 'unauthorized', 'the metrics endpoint needs its bearer key')
      }
    }
    const text = await deps.registry.metrics()
    return c.text(text, 200, { 'Content-Type': deps.registry.contentType })
  })
}
