import type { Context } from 'hono'
import { requireScope } from '../auth.js'
import type { BrokerApp, RouteDeps } from '../deps.js'
import type { BrokerEnv } from '../env.js'
import { renderStatusPage } from '../status-page.js'

/** GET /status: absent when statusPage.enabled is false; behind the admin key when requireAdmin. */
export function registerStatusPage(app: BrokerApp, deps: RouteDeps): void {
  const { enabled, requireAdmin } = deps.config.statusPage
  if (!enabled) return
  const page = (c: Context<BrokerEnv>) =>
    c.html(renderStatusPage(deps.engine.status(), deps.engine.readiness(), deps.now()))
  if (requireAdmin) app.get('/status', requireScope(deps.auth, 'admin'), page)
  else app.get('/status', page)
}
