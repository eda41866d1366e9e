import type { OpenAPIHono } from '@hono/zod-openapi'
import type { Registry } from 'prom-client'
import type { BrokerConfig } from '../config/load.js'
import type { TokenEngine } from '../engine/types.js'
import type { BrokerMetrics } from '../observability/metrics.js'
import type { AccessPolicy } from '../policy/access-policy.js'
import type { Authenticator } from '../policy/authenticator.js'
import type { BrokerEnv } from './env.js'

/** What route modules get; routes stay thin: validate, authorize, call the engine, respond. */
export interface RouteDeps {
  config: BrokerConfig
  engine: TokenEngine
  auth: Authenticator
  /** Who may do what with which app (src/policy/access-policy.ts). */
  policy: AccessPolicy
  metrics: BrokerMetrics
  registry: Registry
  now: () => number
  /** Flipped by graceful shutdown: /readyz answers 503 from then on. */
  lifecycle: { shuttingDown: boolean }
}

export type BrokerApp = OpenAPIHono<BrokerEnv>
