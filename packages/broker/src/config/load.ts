import { resolve as resolvePath } from 'node:path'
import type { Alias } from 'yaml'
import { LineCounter, parseDocument, visit } from 'yaml'
import type { AppConfig, StoreOptions, WeChatOptions } from '../engine/types.js'
import { applyEnvOverrides, describeSchema, interpolateEnv } from './env.js'
import type { ConfigProblem } from './format-issues.js'
import { formatIssues, formatPath, problemsToText } from './format-issues.js'
import { keyDigest, sha256 } from './key-digest.js'
import { NotASmallFileError, readSmallFile } from './read-small-file.js'
import type { ParsedConfig, Scope, TokenMode } from './schema.js'
import { configSchema } from './schema.js'

export interface ClientConfig {
  name: string
  /** SHA-256 of the bearer key (32 bytes). The key itself is never kept. */
  keyHash: Buffer
  /** null = every app ("*"). */
  apps: ReadonlySet<string> | null
  scopes: ReadonlySet<Scope>
  /** What the gateway's token endpoints hand this client (absent: real). */
  tokenMode?: TokenMode
  /** Proxied paths this client may call through the gateway (absent: the whole allow-list). */
  gatewayPaths?: readonly string[]
}

/** The WeChat-compatible gateway's settings (src/gateway). */
export type GatewayConfig = NonNullable<ParsedConfig['gateway']>

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
  http: ParsedConfig['http']
  /** null: the gateway is off (no `gateway` section). */
  gateway: GatewayConfig | null
  statusPage: { enabled: boolean; requireAdmin: boolean; secureCookie: boolean }
  log: { level: ParsedConfig['log']['level'] }
  /** Accepted but suspicious settings: `check-config` prints them, `serve` logs them at start. */
  warnings: readonly ConfigProblem[]
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

export { sha256 }

/** An app secret is 32 characters; anything much larger is the wrong file. */
export const SECRET_FILE_MAX_BYTES = 4096
/** A config is a few kilobytes; the limit keeps a wrong path (a log, a device) from filling memory. */
export const CONFIG_FILE_MAX_BYTES = 1024 * 1024

/** Surrounding whitespace is kept (it could be part of a secret) but is almost always a mistake. */
function whitespaceWarning(path: string, value: string, what: string): ConfigProblem | undefined {
  if (!/^\s|\s$/.test(value)) return undefined
  return {
    path,
    message: `${what} has leading or trailing whitespace (kept as is); remove it unless it is part of the secret, or WeChat answers 40125 (invalid appsecret)`,
  }
}

/** Reads each app's secretFile; the secrets by app index. */
function readSecretFiles(
  root: Record<string, unknown>,
  problems: ConfigProblem[],
  warnings: ConfigProblem[]
): Map<number, string> {
  const secrets = new Map<number, string>()
  const apps = root.apps
  if (!Array.isArray(apps)) return secrets
  apps.forEach((app: unknown, i) => {
    if (app === null || typeof app !== 'object') return
    const a = app as Record<string, unknown>
    const file = a.secretFile
    if (typeof file !== 'string' || file === '' || a.secret !== undefined) return
    const path = formatPath(['apps', i, 'secretFile'])
    let text: string
    try {
      text = readSmallFile(file, SECRET_FILE_MAX_BYTES)
    } catch (err) {
      problems.push({
        path,
        message:
          err instanceof NotASmallFileError
            ? `${err.reason} (${file}); point it at a regular file of at most ${SECRET_FILE_MAX_BYTES} bytes holding only the app secret`
            : `cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}: ${file}); check the path and that the broker may read it`,
      })
      return
    }
    // Exactly one final line break is the file's, not the secret's (editors and `echo` add it).
    const secret = text.replace(/\r?\n$/, '')
    if (secret === '') {
      problems.push({
        path,
        message: `points at an empty file (${file}); put the app secret in it`,
      })
      return
    }
    const warning = whitespaceWarning(path, secret, `the secret in ${file}`)
    if (warning) warnings.push(warning)
    secrets.set(i, secret)
  })
  return secrets
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
  const warnings: ConfigProblem[] = []
  const interpolated = interpolateEnv(tree ?? {}, env, problems)
  // A field the interpolation reported (an unset ${env:NAME}, a YAML cycle) is reported once,
  // not again by whatever the value left in its place then fails (the schema, the secret file).
  const unset = new Set(problems.map((p) => p.path))
  const interpolationProblems = problems.length
  if (interpolated === null || typeof interpolated !== 'object' || Array.isArray(interpolated)) {
    throw new ConfigError(source, [
      { path: '(root)', message: 'must be a mapping (listen, store, wechat, apps, clients, ...)' },
    ])
  }
  const root = interpolated as Record<string, unknown>
  applyEnvOverrides(root, shape, env, problems)

  // Secret files are read before validation so that their problems are reported with the rest;
  // the secrets stay outside the tree (the schema stays strict).
  const fileSecrets = readSecretFiles(root, problems, warnings)

  const result = configSchema.safeParse(root, { reportInput: true })
  if (!result.success) problems.push(...formatIssues(result.error.issues, knownKeys))
  const reported = problems.filter((p, i) => i < interpolationProblems || !unset.has(p.path))
  if (reported.length > 0 || !result.success) throw new ConfigError(source, reported)

  const parsed = result.data
  parsed.apps.forEach((a, i) => {
    const warning =
      a.secret === undefined
        ? undefined
        : whitespaceWarning(`apps[${i}].secret`, a.secret, 'the secret')
    if (warning) warnings.push(warning)
  })
  if (!parsed.gateway) {
    parsed.clients.forEach((c, i) => {
      if (c.scopes.includes('gateway')) {
        warnings.push({
          path: `clients[${i}].scopes`,
          message:
            'grants gateway, but the gateway is off; add a gateway section (gateway.listen) to turn it on',
        })
      }
    })
  }
  return Object.freeze({
    source,
    listen: parsed.listen,
    store: toStore(parsed),
    wechat: parsed.wechat,
    apps: parsed.apps.map((a, i): AppConfig => ({
      appid: a.appid,
      secret: a.secret ?? fileSecrets.get(i) ?? '',
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
      // The schema requires key or keySha256, so there is a digest.
      keyHash: keyDigest(c) as Buffer,
      apps: c.apps.includes('*') ? null : new Set(c.apps),
      scopes: new Set(c.scopes),
      tokenMode: c.tokenMode,
      ...(c.gatewayPaths === undefined ? {} : { gatewayPaths: c.gatewayPaths }),
    })),
    metrics: { keyHash: keyDigest(parsed.metrics) ?? null },
    http: parsed.http,
    gateway: parsed.gateway ?? null,
    statusPage: parsed.statusPage,
    log: parsed.log,
    warnings: Object.freeze(warnings),
  })
}

/** Deeper than any config needs; the YAML parser recurses once per level of nesting. */
const MAX_NESTING = 64
/** How many times aliases may be expanded in all (the yaml library's own default). */
const MAX_ALIAS_COUNT = 100

/**
 * The first line nested deeper than MAX_NESTING (by open brackets, or by indentation and `- `
 * indicators), so that a hostile file is refused before the parser recurses into a stack overflow,
 * which V8 does not always survive.
 */
function tooDeep(text: string): number | undefined {
  let open = 0
  const lines = text.split('\n')
  for (const [i, line] of lines.entries()) {
    if ((/^[ \t?:-]*/.exec(line)?.[0].length ?? 0) > 2 * MAX_NESTING) return i + 1
    for (const c of line) {
      if (c === ']' || c === '}') open -= 1
      else if ((c === '[' || c === '{') && ++open > MAX_NESTING) return i + 1
    }
  }
  return undefined
}

/** Parses YAML text; syntax errors become problems with line numbers. */
export function parseYaml(text: string, source: string): unknown {
  const deep = tooDeep(text)
  if (deep !== undefined) {
    throw new ConfigError(source, [
      {
        path: `line ${deep}`,
        message: `nests deeper than ${MAX_NESTING} levels; a wxbroker config needs a few, so fix the indentation or brackets`,
      },
    ])
  }
  const lineCounter = new LineCounter()
  // logLevel error: the library's warnings (e.g. a list used as a key) would go to stderr
  // unasked; the schema reports what is wrong with the result.
  const doc = parseDocument(text, { prettyErrors: false, lineCounter, logLevel: 'error' })
  const lineOf = (offset: number): string => `line ${lineCounter.linePos(offset).line}`
  if (doc.errors.length > 0) {
    throw new ConfigError(
      source,
      doc.errors.map((e) => ({
        path: lineOf(e.pos[0]),
        message: `YAML ${e.code}: ${e.message.split('\n')[0] ?? ''}; fix the syntax`,
      }))
    )
  }
  // Aliases are expanded by toJS, which stops a "billion laughs" at maxAliasCount (and an alias
  // without an anchor) with an error that names no line: each alias notes itself when its
  // expansion fails, so the problem can point at it.
  let failed: Alias | undefined
  visit(doc, {
    Alias(_key, node) {
      const expand = node.toJSON.bind(node)
      node.toJSON = (...args: Parameters<Alias['toJSON']>): unknown => {
        try {
          return expand(...args)
        } catch (e) {
          failed ??= node
          throw e
        }
      }
    },
  })
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown
  } catch (e) {
    const excessive = e instanceof ReferenceError && /excessive alias count/i.test(e.message)
    throw new ConfigError(source, [
      {
        path: failed?.range ? lineOf(failed.range[0]) : '(file)',
        message: excessive
          ? `YAML aliases expand to more than ${MAX_ALIAS_COUNT} copies (an alias bomb?); write the values out instead of nesting aliases`
          : failed
            ? `YAML alias *${failed.source} cannot be expanded (its anchor &${failed.source} must come before it); fix the alias`
            : `YAML cannot be converted (${e instanceof Error ? e.name : 'error'}); fix the syntax`,
      },
    ])
  }
}

/** Resolves --config / WXBROKER_CONFIG / ./wxbroker.yaml, reads, interpolates and validates. */
export function loadConfig(opts: LoadConfigOptions = {}): BrokerConfig {
  const env = opts.env ?? process.env
  const cwd = opts.cwd ?? process.cwd()
  const explicit = opts.path ?? env.WXBROKER_CONFIG
  const file = resolvePath(cwd, explicit ?? DEFAULT_CONFIG_FILE)
  let text: string | undefined
  try {
    text = readSmallFile(file, CONFIG_FILE_MAX_BYTES)
  } catch (err) {
    if (err instanceof NotASmallFileError) {
      throw new ConfigError(file, [
        {
          path: '(file)',
          message: `${err.reason}; pass the path of the YAML config (a regular file of at most ${CONFIG_FILE_MAX_BYTES} bytes)`,
        },
      ])
    }
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
