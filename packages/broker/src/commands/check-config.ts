import { problemsToText } from '../config/format-issues.js'
import { ConfigError, loadConfig, type BrokerConfig } from '../config/load.js'

export function describeConfig(config: BrokerConfig): string[] {
  const store =
    config.store.kind === 'memory'
      ? 'in-memory (single instance only)'
      : `redis (${config.store.nodes.length} node${config.store.nodes.length === 1 ? '' : 's'}, keyPrefix ${config.store.keyPrefix})`
  const gateway = config.gateway
  return [
    `listen: ${config.listen.host}:${config.listen.port}`,
    ...(gateway ? [`gateway: ${gateway.listen.host}:${gateway.listen.port}`] : []),
    `store: ${store}`,
    `apps: ${config.apps.map((a) => `${a.appid} (${a.tokenKind})`).join(', ')}`,
    `clients: ${config.clients.map((c) => c.name).join(', ') || '(none)'}`,
  ]
}

/**
 * `wxbroker check-config [--config PATH]`: exit 0 and a summary (plus any warnings on stderr), or
 * exit 1 and every problem.
 */
export function checkConfigCommand(
  path: string | undefined,
  out: (line: string) => void,
  err: (line: string) => void,
  env: Record<string, string | undefined> = process.env
): number {
  try {
    const config = loadConfig({ path, env })
    out(`config OK: ${config.source}`)
    for (const line of describeConfig(config)) out(`  ${line}`)
    for (const w of config.warnings) err(`warning: ${problemsToText([w])}`)
    return 0
  } catch (e) {
    if (e instanceof ConfigError) {
      err(e.message)
      return 1
    }
    throw e
  }
}
