import { createRoute } from '@hono/zod-openapi'
import { appScoped } from '../access.js'
import { limitBody } from '../body-limit.js'
import type { BrokerApp, RouteDeps } from '../deps.js'
import { ROUTES } from './paths.js'
import {
  AppidParams,
  InvalidateBody,
  InvalidateRequest,
  TokenBody,
  errorResponses,
  tokenJson,
} from '../schemas.js'

const json = <T>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

export function registerTokenRoutes(app: BrokerApp, deps: RouteDeps): void {
  const getToken = createRoute({
    method: 'get',
    path: ROUTES.token,
    summary: 'Current access token (scope token:read)',
    security: [{ bearer: [] }],
    middleware: appScoped(deps.policy, 'token:read'),
    request: { params: AppidParams },
    responses: {
      200: json(TokenBody, 'The current token and how long it may be used'),
      ...errorResponses(400, 401, 403, 404, 429, 502, 503),
    },
  })
  app.openapi(getToken, async (c) => {
    const { appid } = c.req.valid('param')
    const token = await deps.engine.getToken(appid)
    return c.json(tokenJson(token), 200)
  })

  const invalidate = createRoute({
    method: 'post',
    path: ROUTES.invalidate,
    summary:
      'Report a token WeChat rejected (40001/40014/42001); refreshes only if it is still current',
    security: [{ bearer: [] }],
    middleware: [
      ...appScoped(deps.policy, 'token:invalidate'),
      limitBody(deps.config.http.bodyLimitBytes),
    ] as const,
    request: {
      params: AppidParams,
      body: { required: true, content: { 'application/json': { schema: InvalidateRequest } } },
    },
    responses: {
      200: json(InvalidateBody, 'Outcome and the token to use now'),
      ...errorResponses(400, 401, 403, 404, 413, 429, 502, 503),
    },
  })
  app.openapi(invalidate, async (c) => {
    const { appid } = c.req.valid('param')
    const body = c.req.valid('json')
    const result = await deps.engine.invalidate(
      appid,
      body.access_token,
      body.errcode,
      c.get('client')?.name
    )
    return c.json(
      { refreshed: result.refreshed, reason: result.reason, ...tokenJson(result.token) },
      200
    )
  })

  const refresh = createRoute({
    method: 'post',
    path: ROUTES.refresh,
    summary: 'Forced refresh (scope admin); still subject to quota and cooldown guards',
    security: [{ bearer: [] }],
    middleware: appScoped(deps.policy, 'admin'),
    request: { params: AppidParams },
    responses: {
      200: json(TokenBody, 'The new token'),
      ...errorResponses(400, 401, 403, 404, 429, 502, 503),
    },
  })
  app.openapi(refresh, async (c) => {
    const { appid } = c.req.valid('param')
    const token = await deps.engine.refresh(appid)
    return c.json(tokenJson(token), 200)
  })
}
