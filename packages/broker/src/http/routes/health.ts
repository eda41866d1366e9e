import { createRoute, z } from '@hono/zod-openapi'
import type { BrokerApp, RouteDeps } from '../deps.js'
import { ReadinessBody } from '../schemas.js'

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
    summary: 'Readiness: the store is reachable and every app has a valid token',
    responses: {
      200: { description: 'Ready', content: { 'application/json': { schema: ReadinessBody } } },
      503: {
        description: 'Not ready, with reasons',
        content: { 'application/json': { schema: ReadinessBody } },
      },
    },
  })
  app.openapi(readyz, (c) => {
    const r = deps.engine.readiness()
    const reasons = deps.lifecycle.shuttingDown ? ['shutting_down', ...r.reasons] : r.reasons
    const ready = r.ready && !deps.lifecycle.shuttingDown
    const body = { ready, store_up: r.storeUp, reasons }
    return ready ? c.json(body, 200) : c.json(body, 503)
  })
}
