import { ConfigError, loadConfig } from '../config/load.js'
import { createLogger } from '../logger.js'
import { startBroker, type RunningBroker } from '../server.js'

/** Stops gracefully on SIGTERM/SIGINT, then exits 0; a second signal or a stuck stop exits 1. */
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
  const logger = createLogger({ level: config.log.level })
  for (const w of config.warnings) logger.warn({ field: w.path }, `config: ${w.message}`)
  let broker: RunningBroker
  try {
    broker = await startBroker(config, { logger })
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (code !== 'EADDRINUSE' && code !== 'EACCES' && code !== 'EADDRNOTAVAIL') throw e
    err(
      `cannot listen on ${config.listen.host}:${config.listen.port} (${code}); ` +
        'change listen in the config or WXBROKER_LISTEN_PORT / WXBROKER_LISTEN_HOST'
    )
    return 1
  }
  exitOnSignals(broker)
  return 'running'
}
