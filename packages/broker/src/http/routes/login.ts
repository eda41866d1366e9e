import { createRoute } from '@hono/zod-openapi'
import { EngineError } from '../../engine/types.js'
import { appScoped } from '../access.js'
import { limitBody } from '../body-limit.js'
import type { BrokerApp, RouteDeps } from '../deps.js'
import { ROUTES } from './paths.js'
import { fromLoginError } from '../errors.js'
import { AppidParams, LoginBody, LoginRequest, errorResponses } from '../schemas.js'

export function registerLoginRoutes(app: BrokerApp, deps: RouteDeps): void {
  const route = createRoute({
    method: 'post',
    path: ROUTES.login,
    summary:
      'Exchange a wx.login code for openid and session_key (scope login); the secret stays here',
    description:
      'WeChat errors map to: 40029 → 400 invalid_code, 40163 → 409 code_used, 40226 → 403 code_blocked, ' +
      '45011 → 429 rate_limited (Retry-After 60), -1 and any other errcode → 502 wechat_error.',
    security: [{ bearer: [] }],
    middleware: [
      ...appScoped(deps.policy, 'login'),
      limitBody(deps.config.http.bodyLimitBytes),
    ] as const,
    request: {
      params: AppidParams,
      body: { required: true, content: { 'application/json': { schema: LoginRequest } } },
    },
    responses: {
      200: { description: 'The session', content: { 'application/json': { schema: LoginBody } } },
      ...errorResponses(400, 401, 403, 404, 409, 413, 429, 502, 503),
    },
  })
  app.openapi(route, async (c) => {
    const { appid } = c.req.valid('param')
    const { js_code } = c.req.valid('json')
    try {
      const s = await deps.engine.code2Session(appid, js_code)
      return c.json(
        s.unionid === undefined
          ? { openid: s.openid, session_key: s.session_key }
          : { openid: s.openid, session_key: s.session_key, unionid: s.unionid },
        200
      )
    } catch (err) {
      throw err instanceof EngineError ? fromLoginError(err) : err
    }
  })
}
