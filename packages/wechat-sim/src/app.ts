import { Hono } from 'hono'
import { adminRoutes } from './admin/routes.js'
import { AdminInputError, WxError } from './errors.js'
import { wxJson, type SimEnv } from './routes/context.js'
import { registerLinkRoutes } from './routes/links.js'
import { registerLoginRoutes } from './routes/login.js'
import { registerQuotaRoutes } from './routes/quota.js'
import { registerSecurityRoutes } from './routes/security.js'
import { registerSubscribeRoutes } from './routes/subscribe.js'
import { registerTokenRoutes } from './routes/token.js'
import { registerPhoneRoutes } from './routes/user-data.js'
import { registerWxacodeRoutes } from './routes/wxacode.js'
import type { SimState } from './state/sim-state.js'
import { ADMIN_PREFIX, isAdminPath, wechatGateway } from './wechat-gateway.js'

/** The whole simulator as one Hono app: WeChat's endpoints plus the admin API under /__sim/. */
export function createSimApp(state: SimState, signal: AbortSignal): Hono<SimEnv> {
  const app = new Hono<SimEnv>()
  app.use('*', wechatGateway(state, signal))
  app.route(ADMIN_PREFIX, adminRoutes(state))
  registerTokenRoutes(app, state)
  registerLoginRoutes(app, state)
  registerPhoneRoutes(app, state)
  registerSubscribeRoutes(app, state)
  registerWxacodeRoutes(app, state)
  registerLinkRoutes(app, state)
  registerSecurityRoutes(app, state)
  registerQuotaRoutes(app, state)

  app.notFound((c) => {
    if (isAdminPath(c.req.path)) return c.json({ error: `no admin route ${c.req.path}` }, 404)
    // WeChat answers unknown API paths with a JSON error, never an HTML page.
    return wxJson(c, new WxError(48001).body())
  })

  app.onError((err, c) => {
    if (isAdminPath(c.req.path)) {
      if (err instanceof AdminInputError) return c.json({ error: err.message }, 400)
      return c.json({ error: `internal error: ${err.message}` }, 500)
    }
    if (err instanceof WxError) return wxJson(c, err.body())
    return wxJson(c, new WxError(-1).body())
  })
  return app
}
