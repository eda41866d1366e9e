import { ConfigError, loadConfig, type BrokerConfig } from '../config/load.js'
import { guardSecretsOf, reportFatal } from './fatal-error.js'
import { createLogger } from '../observability/logger.js'
import { GatewayListenError, listenBroker, type RunningBroker } from '../server/server.js'
import { ENV_PREFIX, toEnvSegment } from '../config/env.js'

/**
 * Stops gracefully on SIGTERM, SIGINT or SIGHUP, then exits 0; a second signal or a stuck stop
 * exits 1. SIGHUP does not reload the config (a terminal closing, or a supervisor that sends it by
 * habit, must not kill the broker mid-request): restart to apply a new config.
 */
export function exitOnSignals(
  broker: Pick<RunningBroker, 'shutdown' | 'logger'>,
  hardLimitMs = 10_000
): void {
  let stopping = false
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      broker.logger.warn({ signal }, 'second signal: exiting now')
      process.exit(1)
    }
    stopping = true
    broker.logger.info({ signal }, 'signal received')
    setTimeout(() => {
      broker.logger.error({ hardLimitMs }, 'shutdown took too long: exiting')
      process.exit(1)
    }, hardLimitMs).unref()
    broker.shutdown().then(
      () => {
        // Let pino's buffered stdout writer finish before leaving.
        broker.logger.flush(() => process.exit(0))
      },
      (error: unknown) => {
        broker.logger.error({ err: (error as Error).message }, 'shutdown failed')
        process.exit(1)
      }
    )
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  process.on('SIGHUP', onSignal)
}

/**
 * What to tell the operator when a port cannot be bound; undefined for other errors. `field` names
 * the setting: `listen` for the API, `gateway.listen` for the gateway.
 */
export function listenFailure(
  error: unknown,
  at: BrokerConfig['listen'],
  field = 'listen'
): string | undefined {
  const code = (error as NodeJS.ErrnoException).code
  const where = `cannot listen on ${at.host}:${at.port} (${code})`
  const env = `${ENV_PREFIX}${field.split('.').map(toEnvSegment).join('_')}`
  const port = `${field}.port (${env}_PORT)`
  const host = `${field}.host (${env}_HOST)`
  switch (code) {
    case 'EADDRINUSE':
      return `${where}: the port is in use; stop the other process or change ${port}`
    case 'EACCES':
      return `${where}: permission denied; use a port above 1023 or change ${port}`
    case 'EADDRNOTAVAIL':
      return `${where}: ${field}.host is not an address of this machine; change ${host}, e.g. 127.0.0.1 or 0.0.0.0`
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_FAIL':
    case 'EAI_NONAME':
      return `${where}: ${field}.host does not resolve; change ${host} to an IP address or a resolvable name`
    default:
      return undefined
  }
}

/** `wxbroker serve [--config PATH]` */
export async function serveCommand(
  path: string | undefined,
  err: (line: string) => void
): Promise<number | 'running'> {
  let config
  try {
    config = loadConfig({ path })
  } catch (e) {
    if (e instanceof ConfigError) {
      err(e.message)
      return 1
    }
    throw e
  }
  guardSecretsOf(config)
  const logger = createLogger({ level: config.log.level })
  for (const w of config.warnings) logger.warn({ field: w.path }, `config: ${w.message}`)
  let broker: RunningBroker
  try {
    broker = await listenBroker(config, { logger })
  } catch (e) {
    const message =
      e instanceof GatewayListenError && config.gateway
        ? listenFailure(e, config.gateway.listen, 'gateway.listen')
        : listenFailure(e, config.listen)
    if (message === undefined) throw e
    err(message)
    return 1
  }
  exitOnSignals(broker)
  // The engine's start catches store and WeChat failures itself; anything else is a bug.
  broker.started.catch(reportFatal)
  return 'running'
}
