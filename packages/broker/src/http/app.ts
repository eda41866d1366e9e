import { OpenAPIHono } from '@hono/zod-openapi'
import type { z } from 'zod'
import { scrubSecrets, type BrokerLogger } from '../observability/logger.js'
import { accessLog } from './access-log.js'
import { allowedMethods } from './allowed-methods.js'
import type { BrokerApp, RouteDeps } from './deps.js'
import type { BrokerEnv } from './env.js'
import type { RecordRequest } from './request-record.js'
import { ApiError, errorResponse, toApiError } from './errors.js'
import { noStore } from './no-store.js'
import { registerAppsRoutes } from './routes/apps.js'
import { registerHealthRoutes } from './routes/health.js'
import { registerLoginRoutes } from './routes/login.js'
import { registerMetricsRoute } from './routes/metrics.js'
import { registerStatusPage } from './routes/status-page.js'
import { registerTokenRoutes } from './routes/token.js'

/**
 * Validation failures name the field and say what is wrong with it, never echoing the value (it
 * may be a token); the messages come from the request schemas' error map (schemas.ts).
 */
export function describeValidationError(error: z.ZodError): string {
  const parts = error.issues.map((i) => {
    const field = i.path.length > 0 ? i.path.map(String).join('.') : 'the body'
    return `${field} ${i.message}`
  })
  return `invalid request: ${parts.join('; ')}`
}

export const OPENAPI_INFO = {
  openapi: '3.0.3',
  info: {
    title: 'wxbroker',
    version: '1',
    description:
      'Central WeChat access-token broker. Errors: {"error":{"code","message","request_id"}}; ' +
      '502 adds errcode, errmsg, rid; 503 carries Retry-After; a known path with another method ' +
      'is 405 with Allow.',
  },
}

export function createApp(deps: RouteDeps, logger: BrokerLogger, record: RecordRequest): BrokerApp {
  const app = new OpenAPIHono<BrokerEnv>({
    defaultHook: (result) => {
      if (!result.success)
        throw new ApiError(400, 'bad_request', describeValidationError(result.error))
    },
  })

  // One middleware for the request id, the access line and the HTTP metrics: every layer in the
  // chain costs a closure and a promise on the hot path.
  app.use('*', accessLog(record))
  // Responses under /v1 carry tokens and session keys.
  app.use('/v1/*', noStore)

  app.openAPIRegistry.registerComponent('securitySchemes', 'bearer', {
    type: 'http',
    scheme: 'bearer',
    description: 'Client key (its SHA-256 is in the broker config)',
  })
  registerTokenRoutes(app, deps)
  registerLoginRoutes(app, deps)
  registerAppsRoutes(app, deps)
  registerHealthRoutes(app, deps)
  registerMetricsRoute(app, deps)
  registerStatusPage(app, deps)
  app.doc('/openapi.json', OPENAPI_INFO)

  app.notFound((c) => {
    // A known path with another method is 405 with Allow (RFC 9110 §15.5.6), not "no such route".
    const allowed = allowedMethods(app, c.req.path)
    if (allowed.length === 0) {
      return errorResponse(c, new ApiError(404, 'not_found', 'no such route; see /openapi.json'))
    }
    c.header('Allow', allowed.join(', '))
    return errorResponse(
      c,
      new ApiError(405, 'method_not_allowed', `this route answers ${allowed.join(', ')} only`)
    )
  })
  app.onError((err, c) => {
    const apiError = toApiError(err)
    if (apiError.status >= 500 && apiError.code === 'internal') {
      logger.error(
        {
          err: { name: err.name, message: scrubSecrets(err.message) },
          request_id: c.get('requestId'),
        },
        'unhandled error'
      )
    }
    return errorResponse(c, apiError)
  })
  return app
}
