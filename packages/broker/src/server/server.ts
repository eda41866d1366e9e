import type { AddressInfo } from 'node:net'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { getRequestListener } from '@hono/node-server'
import { Registry } from 'prom-client'
import type { BrokerConfig } from '../config/load.js'
import { createEngine, systemClock } from '../engine/index.js'
import type { Clock, EngineOptions, TokenEngine } from '../engine/types.js'
import { createApp } from '../http/app.js'
import { requestErrorResponse } from '../http/errors.js'
import { AccessPolicy } from '../policy/access-policy.js'
import { Authenticator } from '../policy/authenticator.js'
import type { BrokerApp, RouteDeps } from '../http/deps.js'
import { requestRecorder } from '../http/request-record.js'
import { tokenFastPath, type FastPath } from '../http/token-fast-path.js'
import { createGateway } from '../gateway/gateway-app.js'
import { followEngineEvents } from '../observability/engine-log.js'
import { createHttpServer } from './http-server.js'
import { createLogger, type BrokerLogger } from '../observability/logger.js'
import { createMetrics } from '../observability/metrics.js'

export interface StartBrokerOptions {
  logger?: BrokerLogger
  registry?: Registry
  clock?: Clock
  /** Engine settings beyond the config (tests shorten tunings). */
  engine?: Pick<EngineOptions, 'tuning' | 'coldStartTimeoutMs' | 'instanceId'>
  /** How long shutdown lets in-flight requests run before cutting connections (default 5000). */
  drainTimeoutMs?: number
  /** Default true: node-server's lighter Request/Response globals (the fast path). */
  overrideGlobalObjects?: boolean
}

export interface RunningBroker {
  url: string
  port: number
  /** The gateway's origin (design §10), when it is configured. */
  gateway: { url: string; port: number } | null
  app: BrokerApp
  engine: TokenEngine
  registry: Registry
  logger: BrokerLogger
  /** Settles once the engine has started (store connected, first refreshes under way). */
  started: Promise<void>
  /** Graceful: readiness 503, stop accepting, drain, close connections, stop the engine. */
  shutdown(): Promise<void>
}

/** Builds the engine, metrics and HTTP app for a config, without listening. */
export function buildBroker(config: BrokerConfig, opts: StartBrokerOptions = {}) {
  const logger = opts.logger ?? createLogger({ level: config.log.level })
  const clock = opts.clock ?? systemClock
  const registry = opts.registry ?? new Registry()
  const engine = createEngine({
    apps: config.apps,
    store: config.store,
    wechat: config.wechat,
    clock,
    logger: logger.child({ component: 'engine' }),
    ...opts.engine,
  })
  const metrics = createMetrics({ registry, engine, now: () => clock.now() })
  const unfollow = followEngineEvents(engine, logger)
  const auth = new Authenticator(config.clients)
  const deps: RouteDeps = {
    config,
    engine,
    auth,
    policy: new AccessPolicy(auth, (client, appid, scope) =>
      metrics.countClientRequest(client, appid, scope)
    ),
    metrics,
    registry,
    now: () => clock.now(),
    lifecycle: { shuttingDown: false },
  }
  const record = requestRecorder(logger, metrics)
  const app = createApp(deps, logger, record)
  const fastPath = tokenFastPath(deps, record)
  const gateway = config.gateway
    ? createGateway({
        config,
        gateway: config.gateway,
        engine,
        policy: deps.policy,
        registry,
        logger,
        now: deps.now,
      })
    : null
  const detach = (): void => {
    metrics.detach()
    unfollow()
  }
  return { app, fastPath, gateway, engine, registry, logger, deps, detach }
}

/** A failure to bind the gateway's port: says which listener, for the CLI's message. */
export class GatewayListenError extends Error {
  override readonly name = 'GatewayListenError'
  readonly code: string | undefined
  constructor(cause: NodeJS.ErrnoException) {
    super(`the gateway cannot listen: ${cause.message}`, { cause })
    this.code = cause.code
  }
}

/**
 * Binds the port first, then starts the engine: a start that cannot listen (port in use, a host
 * that does not resolve, EACCES) fails before any store connection or upstream token call, so a
 * crash loop costs no quota. Resolves once listening; `started` settles when the engine has
 * started. Until then readiness says `starting` and token readers wait (the engine waits for its own
 * start, up to the cold-start bound).
 */
export async function listenBroker(
  config: BrokerConfig,
  opts: StartBrokerOptions = {}
): Promise<RunningBroker> {
  const { app, fastPath, gateway, engine, registry, logger, deps, detach } = buildBroker(
    config,
    opts
  )
  const honoListener = getRequestListener(app.fetch, {
    hostname: config.listen.host,
    overrideGlobalObjects: opts.overrideGlobalObjects ?? true,
    errorHandler: requestErrorResponse,
  })
  const server = createHttpServer(inFront(fastPath, honoListener), config.http, logger)
  // The gateway's own server, with the same limits; its refusals are worded WeChat's way.
  const gatewayServer =
    gateway && config.gateway
      ? createHttpServer(gateway.listener, config.http, logger, gateway.renderRefusal)
      : null
  try {
    await listen(server, config.listen)
    if (gatewayServer && config.gateway) {
      await listen(gatewayServer, config.gateway.listen).catch((error: NodeJS.ErrnoException) => {
        throw new GatewayListenError(error)
      })
    }
  } catch (error) {
    // Nothing listens and the engine never started: release what building it took.
    server.close()
    await gateway?.destroy()
    detach()
    await engine.stop()
    throw error
  }
  const { url, port } = origin(server)
  const gatewayAt = gatewayServer ? origin(gatewayServer) : null
  logger.info(
    {
      url,
      ...(gatewayAt ? { gateway: gatewayAt.url } : {}),
      store: config.store.kind,
      apps: config.apps.map((a) => a.appid),
      config: config.source,
    },
    'wxbroker listening'
  )

  const startedAt = performance.now()
  // Until it has started, readiness says `starting` and token readers wait (the engine's own rule).
  const started = engine.start().then(() => {
    if (deps.lifecycle.shuttingDown) return // a stop cut the start short
    logger.info({ ms: Math.round(performance.now() - startedAt) }, 'engine started')
  })

  const drainTimeoutMs = opts.drainTimeoutMs ?? 5000
  let closing: Promise<void> | undefined
  const shutdown = (): Promise<void> => {
    closing ??= (async () => {
      deps.lifecycle.shuttingDown = true
      logger.info({ drainTimeoutMs }, 'shutting down: draining in-flight requests')
      const servers = gatewayServer ? [server, gatewayServer] : [server]
      const closed = Promise.all(
        servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))
      )
      // close() stops accepting; keep-alive sockets that go idle are closed as they free up.
      const closeIdle = (): void => servers.forEach((s) => s.closeIdleConnections())
      closeIdle()
      const sweeper = setInterval(closeIdle, 50)
      const deadline = setTimeout(() => {
        logger.warn({}, 'drain timeout: closing remaining connections')
        servers.forEach((s) => s.closeAllConnections())
        void gateway?.destroy()
      }, drainTimeoutMs)
      await closed
      clearInterval(sweeper)
      clearTimeout(deadline)
      // The gateway's upstream calls ended with their requests; its pool closes.
      await gateway?.close()
      detach()
      // Also ends a start still in progress (its store connections close), then waits for it.
      await engine.stop()
      await started.catch(() => undefined)
      logger.info({}, 'stopped')
    })()
    return closing
  }
  return { url, port, gateway: gatewayAt, app, engine, registry, logger, started, shutdown }
}

function origin(server: Server): { url: string; port: number } {
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return { url: `http://${host}:${address.port}`, port: address.port }
}

/** listenBroker, resolved once the engine has started too (tests, the demo). */
export async function startBroker(
  config: BrokerConfig,
  opts: StartBrokerOptions = {}
): Promise<RunningBroker> {
  const broker = await listenBroker(config, opts)
  try {
    await broker.started
  } catch (error) {
    await broker.shutdown()
    throw error
  }
  return broker
}

function listen(server: Server, at: BrokerConfig['listen']): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(at.port, at.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** Lets `fastPath` answer first; if it declines, or throws before answering, Hono answers. */
function inFront(
  fastPath: FastPath,
  next: (req: IncomingMessage, res: ServerResponse) => Promise<void>
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let answered = false
    try {
      answered = fastPath(req, res)
    } catch {
      // A throw before the response was sent leaves the request to Hono (its answer or a 500).
      answered = res.headersSent
    }
    if (!answered) void next(req, res)
  }
}
