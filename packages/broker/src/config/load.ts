import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { resolve as resolvePath } from 'node:path'
import { LineCounter, parseDocument } from 'yaml'
import type { AppConfig, StoreOptions, WeChatOptions } from '../engine/types.js'
import { applyEnvOverrides, describeSchema, interpolateEnv } from './env.js'
import type { ConfigProblem } from './format-issues.js'
import { formatIssues, formatPath, problemsToText } from './format-issues.js'
import type { ParsedConfig, Scope } from './schema.js'
import { configSchema } from './schema.js'

export interface ClientConfig {
  name: string
  /** SHA-256 of the bearer key (32 bytes). The key itself is never kept. */
  keyHash: Buffer
  /** null = every app ("*"). */
  apps: ReadonlySet<string> | null
  scopes: ReadonlySet<Scope>
}

/** The validated, frozen configuration the daemon runs on. */
export interface BrokerConfig {
  /** Where it came from, for logs ("(environment)" when no file was read). */
  source: string
  listen: { host: string; port: number }
  store: StoreOptions
  wechat: WeChatOptions
  apps: AppConfig[]
  clients: ClientConfig[]
  metrics: { keyHash: Buffer | null }
  http: { bodyLimitBytes: number }
  statusPage: { enabled: boolean; requireAdmin: boolean }
  log: { level: ParsedConfig['log']['level'] }
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError'
  constructor(
    readonly source: string,
    readonly problems: ConfigProblem[]
  ) {
    super(
      `invalid configuration in ${source} (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n` +
        problemsToText(problems)
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n')
    )
  }
}

export const DEFAULT_CONFIG_FILE = 'wxbroker.yaml'

export interface LoadConfigOptions {
  /** --config PATH */
  path?: string | undefined
  env?: Record<string, string | undefined>
  cwd?: string
}

const shape = describeSchema(configSchema)

function knownKeys(path: readonly PropertyKey[]): string[] {
  let node = shape
  for (const seg of path) {
    if ('object' in node && typeof seg === 'string' && node.object[seg]) node = node.object[seg]
    else if ('array' in node && typeof seg === 'number') node = node.array
    else return []
  }
  return 'object' in node ? Object.keys(node.object) : []
}

export function sha256(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest()
}

function readSecretFiles(root: unknown, problems: ConfigProblem[]): void {
  const apps = (root as { apps?: unknown }).apps
  if (!Array.isArray(apps)) return
  apps.forEach((app: unknown, i) => {
    if (app === null || typeof app !== 'object') return
    const a = app as Record<string, unknown>
    if (typeof a.secretFile !== 'string' || a.secretFile === '' || a.secret !== undefined) return
    try {
      const secret = readFileSync(a.secretFile, 'utf8').replace(/\r?\n$/, '')
      if (secret === '') {
        problems.push({
          path: formatPath(['apps', i, 'secretFile']),
          message: `points at an empty file (${a.secretFile}); put the app secret in it`,
        })
      }
      a.resolvedSecret = secret
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error'
      problems.push({
        path: formatPath(['apps', i, 'secretFile']),
        message: `cannot be read (${code}: ${a.secretFile}); check the path and that the broker may read it`,
      })
    }
  })
}

function toStore(parsed: ParsedConfig): StoreOptions {
  if (!parsed.store) return { kind: 'memory' }
  const nodes = Array.isArray(parsed.store.redis) ? parsed.store.redis : [parsed.store.redis]
  return { kind: 'redis', nodes, keyPrefix: parsed.store.keyPrefix }
}

/** Validates an already-parsed config tree (YAML or object) plus the environment. */
export function buildConfig(
  tree: unknown,
  source: string,
  env: Record<string, string | undefined> = process.env
): BrokerConfig {
  const problems: ConfigProblem[] = []
  const interpolated = interpolateEnv(tree ?? {}, env, problems)
  if (interpolated === null || typeof interpolated !== 'object' || Array.isArray(interpolated)) {
    throw new ConfigError(source, [
      { path: '(root)', message: 'must be a mapping (listen, store, wechat, apps, clients, ...)' },
    ])
  }
  const root = interpolated as Record<string, unknown>
  applyEnvOverrides(root, shape, env, problems)

  // Secret files are read before validation so that their problems are reported with the rest;
  // the resolved value rides along outside the schema (the schema stays strict).
  readSecretFiles(root, problems)
  const resolved = new Map<number, string>()
  if (Array.isArray(root.apps)) {
    root.apps.forEach((a: unknown, i) => {
      if (a !== null && typeof a === 'object' && 'resolvedSecret' in a) {
        const rec = a as Record<string, unknown>
        resolved.set(i, String(rec.resolvedSecret))
        delete rec.resolvedSecret
      }
    })
  }

  const result = configSchema.safeParse(root, { reportInput: true })
  if (!result.success) problems.push(...formatIssues(result.error.issues, knownKeys))
  if (problems.length > 0 || !result.success) throw new ConfigError(source, problems)

  const parsed = result.data
  return Object.freeze({
    source,
    listen: parsed.listen,
    store: toStore(parsed),
    wechat: parsed.wechat,
    apps: parsed.apps.map((a, i): AppConfig => ({
      appid: a.appid,
      secret: a.secret ?? resolved.get(i) ?? '',
      tokenKind: a.tokenKind,
      refreshLeadSeconds: a.refreshLeadSeconds,
      dailyQuota: a.dailyQuota,
      quotaWarnRatio: a.quotaWarnRatio,
      invalidateCooldownSeconds: a.invalidateCooldownSeconds,
      scheduledReserve: a.scheduledReserve ?? Math.floor(a.dailyQuota * 0.1),
      reportRefreshDailyLimit: a.reportRefreshDailyLimit,
      clientReportRefreshDailyLimit: a.clientReportRefreshDailyLimit,
      foreignCheckSeconds: a.foreignCheckSeconds,
    })),
    clients: parsed.clients.map((c): ClientConfig => ({
      name: c.name,
      keyHash: c.keySha256 ? Buffer.from(c.keySha256, 'hex') : sha256(c.key ?? ''),
      apps: c.apps.includes('*') ? null : new Set(c.apps),
      scopes: new Set(c.scopes),
    })),
    metrics: {
      keyHash: parsed.metrics.keySha256
        ? Buffer.from(parsed.metrics.keySha256, 'hex')
        : parsed.metrics.key
          ? sha256(parsed.metrics.key)
          : null,
    },
    http: parsed.http,
    statusPage: parsed.statusPage,
    log: parsed.log,
  })
}

/** Parses YAML text; syntax errors become problems with line numbers. */
export function parseYaml(text: string, source: string): unknown {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { prettyErrors: false, lineCounter })
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({
        path: `line ${lineCounter.linePos(e.pos[0]).line}`,
        message: `YAML ${e.code}: ${e.message.split('\n')[0] ?? ''}; fix the syntax`,
      }))
    )
  }
  return doc.toJS() as unknown
}

/** Resolves --config / WXBROKER_CONFIG / ./wxbroker.yaml, reads, interpolates and validates. */
export function loadConfig(opts: LoadConfigOptions = {}): BrokerConfig {
  const env = opts.env ?? process.env
  const cwd = opts.cwd ?? process.cwd()
  const explicit = opts.path ?? env.WXBROKER_CONFIG
  const file = resolvePath(cwd, explicit ?? DEFAULT_CONFIG_FILE)
  let text: string | undefined
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const onlyEnv = Object.keys(env).some((k) => k.startsWith('WXBROKER_APPS_'))
    if (explicit !== undefined || code !== 'ENOENT' || !onlyEnv) {
      throw new ConfigError(file, [
        {
          path: '(file)',
          message:
            code === 'ENOENT'
              ? 'does not exist; pass --config PATH, set WXBROKER_CONFIG, or create wxbroker.yaml here'
              : `cannot be read (${code ?? 'error'}); check the path and permissions`,
        },
      ])
    }
  }
  if (text === undefined) return buildConfig({}, '(environment)', env)
  return buildConfig(parseYaml(text, file), file, env)
}
