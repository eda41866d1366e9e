import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { stringify } from 'yaml'
import { checkConfigCommand } from '../../src/commands/check-config.js'
import { ConfigError, loadConfig, sha256, type BrokerConfig } from '../../src/config/load.js'

// Property: whatever is done to a valid config (keys dropped, values of the wrong type or odd
// content, unknown keys, environment overrides, YAML broken at random), loading it either succeeds
// or throws a ConfigError whose every problem has a field path and a message; never another
// exception, and neither `check-config`'s output nor the error ever holds an app secret, a client
// key or a Redis password. A config that loads must also be one the runtime's own parsers take
// (ioredis for store URLs, WHATWG URL for the WeChat base URLs). fast-check prints the seed and the shrunk counterexample on failure.

const APPID = 'wx0123456789abcdef'
const APPID2 = 'wx00000000000000aa'
const SECRET = 'fuzz-inline-S3cr3t-5a69788796a0'
const FILE_SECRET = 'fuzz-file-S3cr3t-0f1e2d3c4b5a'
const ENV_SECRET = 'fuzz-env-S3cr3t-77aa88bb99cc'
const KEY = 'fuzz-client-key-7d6c5b4a39281706'
const ENV_KEY = 'fuzz-env-client-key-0c1d2e3f4a5b'
const REDIS_PASSWORD = 'fuzz-redis-pw-41e9'
const NEVER_SHOWN = [SECRET, FILE_SECRET, ENV_SECRET, KEY, ENV_KEY, REDIS_PASSWORD]

const dir = mkdtempSync(join(tmpdir(), 'wxb-config-fuzz-'))
const secretFile = join(dir, 'secret')
writeFileSync(secretFile, `${FILE_SECRET}\n`)
mkdirSync(join(dir, 'a-directory'))
const configFile = join(dir, 'wxbroker.yaml')

function validTree(): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: 8700 },
    store: {
      redis: [`redis://:${REDIS_PASSWORD}@127.0.0.1:6379/0`, 'redis://127.0.0.1:6380/0'],
      keyPrefix: 'wxb',
    },
    wechat: {
      baseUrl: 'https://api.weixin.qq.com',
      fallbackBaseUrls: ['https://api2.weixin.qq.com'],
      timeoutMs: 5000,
    },
    apps: [
      {
        appid: APPID,
        secret: SECRET,
        tokenKind: 'stable',
        refreshLeadSeconds: 600,
        dailyQuota: 2000,
        quotaWarnRatio: 0.8,
        invalidateCooldownSeconds: 30,
      },
      { appid: APPID2, secretFile, tokenKind: 'classic' },
    ],
    clients: [
      { name: 'svc', key: KEY, apps: ['*'], scopes: ['token:read', 'login'] },
      {
        name: 'ops',
        keySha256: sha256('ops-key-000000000000').toString('hex'),
        apps: [APPID],
        scopes: ['admin'],
      },
    ],
    metrics: { keySha256: sha256('metrics-key-00000000').toString('hex') },
    http: { bodyLimitBytes: 16384 },
    statusPage: { enabled: true, requireAdmin: false },
    log: { level: 'info' },
  }
}

/** Values that never hold a secret, chosen to sit on the edges of every rule. */
const oddValue = fc.constantFrom<unknown>(
  null,
  true,
  false,
  0,
  -1,
  1.5,
  65536,
  1e21,
  Number.MAX_SAFE_INTEGER,
  '',
  ' ',
  'x'.repeat(300),
  '*',
  'stable',
  '127.0.0.1',
  'not a host!',
  '[::1]',
  '10.0.0.300',
  '${env:WXB_FUZZ_UNSET}',
  '${env:WXB_FUZZ_SET}',
  'redis://h:99999/0',
  'redis://:p/w@h:6379/0',
  'redis://:100%@h/0',
  'rediss://h:6379/0?tls=1#x',
  'https://user:pw@api.weixin.qq.com',
  'https://api.weixin.qq.com:abc/path',
  'http://[::1]:8080/',
  'ftp://h',
  '/dev/null',
  join(dir, 'a-directory'),
  join(dir, 'missing'),
  secretFile,
  'wx0123456789ABCDEF',
  '\u0000',
  '\uFEFF',
  'ü',
  [],
  {},
  ['*'],
  ['token:read', 'nope'],
  { a: 1 },
  [{ appid: APPID2 }]
)
const unknownKey = fc.constantFrom('extra', '__proto__', 'constructor', 'toString', 'Secret', '')
const envName = fc.constantFrom(
  'WXBROKER_LISTEN_PORT',
  'WXBROKER_LISTEN_HOST',
  'WXBROKER_STORE_REDIS',
  'WXBROKER_WECHAT_BASE_URL',
  'WXBROKER_WECHAT_FALLBACK_BASE_URLS',
  'WXBROKER_APPS_0_SECRET',
  'WXBROKER_APPS_1_SECRET_FILE',
  'WXBROKER_APPS_2_APPID',
  'WXBROKER_APPS_2_SECRET',
  'WXBROKER_APPS_9_SECRET',
  'WXBROKER_APPS_10_DAILY_QUOTA',
  'WXBROKER_CLIENTS_0_KEY',
  'WXBROKER_CLIENTS_1_KEY_SHA256',
  'WXBROKER_CLIENTS_0_SCOPES',
  'WXBROKER_STATUS_PAGE_REQUIRE_ADMIN',
  'WXBROKER_LOG_LEVEL',
  'WXBROKER_NOT_A_SETTING'
)
const oddString = oddValue.filter((v): v is string => typeof v === 'string')
// Secrets and keys go only where they belong (a secret written into another field is shown there,
// rightly); every other override gets an odd value.
const envOverrides = fc
  .tuple(
    fc.dictionary(
      envName,
      fc.oneof(oddString, fc.constantFrom('true', '0', '-1', '70000', 'a,b')),
      {
        maxKeys: 2,
      }
    ),
    fc.subarray<[string, string]>([
      ['WXBROKER_APPS_0_SECRET', ENV_SECRET],
      ['WXBROKER_APPS_2_SECRET', ` ${ENV_SECRET}\n`],
      ['WXBROKER_CLIENTS_0_KEY', ENV_KEY],
      ['WXBROKER_CLIENTS_1_KEY', ENV_KEY],
    ])
  )
  .map(([odd, secrets]): Record<string, string> => ({ ...odd, ...Object.fromEntries(secrets) }))

type Path = (string | number)[]

/** Every path in the tree (objects, lists and leaves), root excluded. */
function paths(node: unknown, at: Path = []): Path[] {
  if (node === null || typeof node !== 'object') return []
  const entries: [string | number, unknown][] = Array.isArray(node)
    ? node.map((v, i) => [i, v])
    : Object.entries(node)
  return entries.flatMap(([k, v]) => [[...at, k], ...paths(v, [...at, k])])
}

type Mutation =
  | { op: 'drop'; pick: number }
  | { op: 'set'; pick: number; value: unknown }
  | { op: 'add'; pick: number; key: string; value: unknown }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('drop' as const), pick: fc.nat() }),
  fc.record({ op: fc.constant('set' as const), pick: fc.nat(), value: oddValue }),
  fc.record({ op: fc.constant('add' as const), pick: fc.nat(), key: unknownKey, value: oddValue })
)

function mutate(tree: Record<string, unknown>, m: Mutation): void {
  const all = paths(tree)
  const path = all[m.pick % all.length] as Path
  const parent = path.slice(0, -1).reduce<unknown>((n, k) => (n as never)[k], tree) as
    Record<string | number, unknown> | unknown[]
  const last = path[path.length - 1] as string | number
  if (m.op === 'drop') {
    if (Array.isArray(parent)) parent.splice(last as number, 1)
    else delete parent[last]
  } else if (m.op === 'set') {
    ;(parent as Record<string | number, unknown>)[last] = m.value
  } else {
    const target = (parent as Record<string | number, unknown>)[last]
    if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
      Object.defineProperty(target, m.key, {
        value: m.value,
        enumerable: true,
        configurable: true,
        writable: true,
      })
    }
  }
}

/** Text edits that break YAML in the ways people (and attackers) do. */
const snippet = fc.constantFrom(
  ':',
  '- ',
  '[',
  ']',
  '{',
  '}',
  '"',
  "'",
  '&a ',
  '*a',
  '*zz',
  '\t',
  '\n',
  '  ',
  '#',
  '!!binary ',
  '!!set ',
  '? ',
  '---\n',
  '%YAML 1.1\n',
  '\u0000',
  '\uFEFF',
  '<<: *a\n',
  '${env:WXB_FUZZ_UNSET}',
  'x: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n',
  '['.repeat(100),
  '  '.repeat(100)
)
const textEdit = fc.record({
  at: fc.nat(),
  remove: fc.nat({ max: 8 }),
  insert: fc.oneof(snippet, fc.string({ maxLength: 6 })),
})

function expectOnlyConfigErrors(env: Record<string, string>): void {
  const base = { WXB_FUZZ_SET: 'set-value', ...env }
  let config: BrokerConfig
  try {
    config = loadConfig({ path: configFile, env: base })
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e
    expect(e.problems.length).toBeGreaterThan(0)
    for (const p of e.problems) {
      expect(p.path).toMatch(/\S/)
      expect(p.message).toMatch(/\S/)
      expect(p.message).not.toMatch(/\n\s+at /)
    }
    // What `check-config` prints for a ConfigError.
    for (const s of NEVER_SHOWN) expect(e.message).not.toContain(s)
    return
  }
  // Loaded means runnable: the parsers `serve` hands these values to accept them.
  for (const node of config.store.kind === 'redis' ? config.store.nodes : []) {
    new Redis(node, { lazyConnect: true }).disconnect()
  }
  for (const base of [config.wechat.baseUrl, ...config.wechat.fallbackBaseUrls]) {
    expect(new URL(`${base}/cgi-bin/token`).pathname).toBe('/cgi-bin/token')
  }
  // Valid: the summary and the warnings `check-config` prints.
  let printed = ''
  const print = (line: string): void => {
    printed += `${line}\n`
  }
  expect(checkConfigCommand(configFile, print, print, base)).toBe(0)
  for (const s of NEVER_SHOWN) expect(printed).not.toContain(s)
}

describe('config fuzzing: broken configs give ConfigErrors, never crashes or leaked secrets', () => {
  it('the valid starting point loads', () => {
    writeFileSync(configFile, stringify(validTree()))
    expect(loadConfig({ path: configFile, env: {} }).apps).toHaveLength(2)
  })

  it('mutated trees and environment overrides', () => {
    fc.assert(
      fc.property(fc.array(mutation, { maxLength: 3 }), envOverrides, (ms, env) => {
        const tree = validTree()
        for (const m of ms) mutate(tree, m)
        writeFileSync(configFile, stringify(tree))
        expectOnlyConfigErrors(env)
      }),
      { numRuns: 200 }
    )
  })

  it('URLs assembled from valid and broken parts, in the store and the WeChat settings', () => {
    const part = (...xs: string[]) => fc.constantFrom(...xs)
    const url = fc
      .tuple(
        part('redis://', 'rediss://', 'REDIS://', 'http://', 'https://', 'HTTPS://', 'ftp://', ''),
        part('', `:${REDIS_PASSWORD}@`, `u:${REDIS_PASSWORD}@`, ':p/w@', ':p%@', ':p#w@', 'u@'),
        part('h', '127.0.0.1', '[::1]', '::1', 'a!b', '', 'a b', '10.0.0.300', 'redis_cache'),
        part('', ':0', ':1', ':6379', ':65535', ':65536', ':99999', ':abc', ':-1', ':'),
        part('', '/', '/0', '/15', '/x', '/0/1', '/-1', '/cgi-bin'),
        part('', '?family=6', '#f', '?')
      )
      .map((parts) => parts.join(''))
    const field = fc.constantFrom('store', 'baseUrl', 'fallback', 'env')
    fc.assert(
      fc.property(field, url, (where, value) => {
        const tree = validTree()
        const wechat = tree.wechat as Record<string, unknown>
        if (where === 'store') tree.store = { redis: value }
        if (where === 'baseUrl') wechat.baseUrl = value
        if (where === 'fallback') wechat.fallbackBaseUrls = [value]
        writeFileSync(configFile, stringify(tree))
        expectOnlyConfigErrors(where === 'env' ? { WXBROKER_STORE_REDIS: value } : {})
      }),
      { numRuns: 200 }
    )
  })

  it('YAML text broken at random', () => {
    // Secrets here only come from the secret file and the environment, so that an edit cannot
    // move one into a field whose value is rightly shown (an edit can move any text anywhere).
    const tree = validTree()
    const apps = tree.apps as Record<string, unknown>[]
    apps[0] = { appid: APPID, secretFile }
    const clients = tree.clients as Record<string, unknown>[]
    clients[0] = { ...clients[0], key: undefined, keySha256: sha256(KEY).toString('hex') }
    const text = stringify(tree).replace(`:${REDIS_PASSWORD}@`, '')
    fc.assert(
      fc.property(
        fc.array(textEdit, { minLength: 1, maxLength: 3 }),
        envOverrides,
        (edits, env) => {
          let t = text
          for (const e of edits) {
            const at = e.at % (t.length + 1)
            t = t.slice(0, at) + e.insert + t.slice(at + e.remove)
          }
          writeFileSync(configFile, t)
          expectOnlyConfigErrors(env)
        }
      ),
      { numRuns: 200 }
    )
  })
})
