import type { OpenAPIHono } from '@hono/zod-openapi'
import type { Context } from 'hono'
import type { Registry } from 'prom-client'
import type { BrokerConfig } from '../config/load.js'
import type { Scope } from '../config/schema.js'
import type { TokenEngine } from '../engine/types.js'
import type { BrokerMetrics } from '../observability/metrics.js'
import { assertAppAllowed, type Authenticator } from './auth.js'
import type { BrokerEnv } from './env.js'

/** What route modules get; routes stay thin: validate, authorize, call the engine, respond. */
export interface RouteDeps {
  config: BrokerConfig
  engine: TokenEngine
  auth: Authenticator
  metrics: BrokerMetrics
  registry: Registry
  now: () => number
  /** Flipped by graceful shutdown: /readyz answers 503 from then on. */
  lifecycle: { shuttingDown: boolean }
}

export type BrokerApp = OpenAPIHono<BrokerEnv>

/** 403 unless the authenticated client may use `appid`; counts the authorized request. */
export function authorizeApp(
  c: Context<BrokerEnv>,
  deps: RouteDeps,
  appid: string,
  scope: Scope
): void {
  const client = assertAppAllowed(c.get('client'), appid)
  deps.metrics.countClientRequest(client.name, appid, scope)
}
