import { createRoute, z } from '@hono/zod-openapi'
import type { Readiness } from '../../engine/types.js'
import type { BrokerApp, RouteDeps } from '../deps.js'
import { ReadinessBody, ReadinessQuery, errorResponses } from '../schemas.js'

/**
 * The /readyz answer (design §3.7, §4). Ready while the replica can serve a valid token for every
 * app, store or no store: every replica shares the store, so failing the probe on a store outage
 * would take them all out of the load balancer at once. `strict` keeps the old meaning (fully
 * working, nothing degraded) for operators and tests. Shutdown is not ready either way.
 */
function readinessJson(
  r: Readiness,
  opts: { strict: boolean; shuttingDown: boolean }
): z.infer<typeof ReadinessBody> {
  const why = opts.strict ? r.degradations.map((d) => d.message) : r.reasons
  const reasons = opts.shuttingDown ? ['shutting_down', ...why] : why
  return {
    ready: reasons.length === 0,
    store_up: r.storeUp,
    reasons,
    degraded: r.degradations.map((d) => d.reason),
  }
}

export function registerHealthRoutes(app: BrokerApp, deps: RouteDeps): void {
  const healthz = createRoute({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: the process serves HTTP',
    responses: {
      200: {
        description: 'Alive',
        content: { 'application/json': { schema: z.object({ status: z.literal('ok') }) } },
      },
    },
  })
  app.openapi(healthz, (c) => c.json({ status: 'ok' as const }, 200))

  const readyz = createRoute({
    method: 'get',
    path: '/readyz',
    summary:
      'Readiness: every app has a valid token to serve (store or no store); degradations listed',
    request: { query: ReadinessQuery },
    responses: {
      200: {
        description: 'Ready; `degraded` lists what is not fully working',
        content: { 'application/json': { schema: ReadinessBody } },
      },
      ...errorResponses(400),
      503: {
        description:
          'Not ready (some app has no valid token, shutting down, not started), with reasons; ' +
          'with strict=true also on any degradation',
        content: { 'application/json': { schema: ReadinessBody } },
      },
    },
  })
  app.openapi(readyz, (c) => {
    const body = readinessJson(deps.engine.readiness(), {
      strict: c.req.valid('query').strict === 'true',
      shuttingDown: deps.lifecycle.shuttingDown,
    })
    return body.ready ? c.json(body, 200) : c.json(body, 503)
  })
}
