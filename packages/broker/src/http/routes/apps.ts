import { createRoute } from '@hono/zod-openapi'
import type { AppStatus } from '../../engine/types.js'
import { requireScope } from '../access.js'
import type { BrokerApp, RouteDeps } from '../deps.js'
import { ROUTES } from './paths.js'
import { AppsBody, errorResponses } from '../schemas.js'

const iso = (ms: number): string => new Date(ms).toISOString()

export function appStatusJson(s: AppStatus, now: number) {
  return {
    appid: s.appid,
    token_kind: s.kind,
    state: s.state,
    generation: s.generation,
    age_seconds:
      s.obtainedAt === null ? null : Math.max(0, Math.floor((now - s.obtainedAt) / 1000)),
    expires_in: s.expiresIn,
    last_refresh: s.lastRefresh
      ? { at: iso(s.lastRefresh.at), reason: s.lastRefresh.reason }
      : null,
    last_error: s.lastError
      ? { errcode: s.lastError.errcode, errmsg: s.lastError.errmsg, at: iso(s.lastError.at) }
      : null,
    quota: {
      used: s.quota.used,
      limit: s.quota.limit,
      warn: s.quota.warn,
      exhausted: s.quota.exhausted,
      scheduled_reserve: s.quota.scheduledReserve,
      reports: {
        used: s.quota.reports.used,
        limit: s.quota.reports.limit,
        client_limit: s.quota.reports.clientLimit,
      },
      force_refresh: s.quota.forceRefresh,
      wechat: s.quota.wechat
        ? { used: s.quota.wechat.used, limit: s.quota.wechat.limit, at: iso(s.quota.wechat.at) }
        : null,
    },
    secret: s.secret,
    last_foreign_refresh: s.lastForeignRefresh
      ? { at: iso(s.lastForeignRefresh.at), evidence: s.lastForeignRefresh.evidence }
      : null,
  }
}

export function registerAppsRoutes(app: BrokerApp, deps: RouteDeps): void {
  const route = createRoute({
    method: 'get',
    path: ROUTES.apps,
    summary: 'Status of every app this admin key may see (scope admin); never a token or secret',
    security: [{ bearer: [] }],
    middleware: [requireScope(deps.policy, 'admin')] as const,
    responses: {
      200: { description: 'Per-app status', content: { 'application/json': { schema: AppsBody } } },
      ...errorResponses(401, 403),
    },
  })
  app.openapi(route, (c) => {
    const client = c.get('client')
    const now = deps.now()
    const apps = deps.engine
      .status()
      .filter((s) => client !== undefined && deps.policy.mayUse(client, s.appid))
      .map((s) => appStatusJson(s, now))
    if (client) deps.policy.countListing(client, 'admin')
    return c.json({ apps }, 200)
  })
}
