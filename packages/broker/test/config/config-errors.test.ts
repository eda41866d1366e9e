import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildConfig, ConfigError, loadConfig, sha256 } from '../../src/config/load.js'

const APPID = 'wx0123456789abcdef'
const SECRET = 'S3cr3t-value-never-printed'
const KEY = 'a-client-key-of-enough-length'
const KEY_HASH = sha256(KEY).toString('hex')

const base = () => ({
  apps: [{ appid: APPID, secret: SECRET }],
  clients: [{ name: 'svc', keySha256: KEY_HASH, apps: [APPID], scopes: ['token:read'] }],
})

function problems(tree: unknown, env: Record<string, string> = {}): string[] {
  try {
    buildConfig(tree, 'test.yaml', env)
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    const err = e as ConfigError
    expect(err.message).not.toContain(SECRET)
    expect(err.message).not.toContain('hunter2')
    expect(err.message).not.toContain(KEY)
    expect(err.message.toLowerCase()).not.toContain(KEY_HASH)
    return err.problems.map((p) => `${p.path}: ${p.message}`)
  }
  throw new Error('expected the config to be rejected')
}

describe('config error table: each broken config gives exact messages', () => {
  const cases: { name: string; tree: unknown; env?: Record<string, string>; expected: string[] }[] =
    [
      {
        name: 'unknown key, with the known ones listed',
        tree: { ...base(), apps: [{ appid: APPID, secret: SECRET, refreshLead: 600 }] },
        expected: [
          'apps[0].refreshLead: is not a known setting; remove it or fix the spelling (known here: appid, secret, secretFile, tokenKind, refreshLeadSeconds, dailyQuota, quotaWarnRatio, invalidateCooldownSeconds, scheduledReserve, reportRefreshDailyLimit, clientReportRefreshDailyLimit, foreignCheckSeconds)',
        ],
      },
      {
        name: 'several problems at once',
        tree: {
          ...base(),
          listen: { port: 70000 },
          apps: [{ appid: 'wxNOTVALID', secret: SECRET, refreshLeadSeconds: 5, tokenKind: 'fast' }],
        },
        expected: [
          'listen.port: must be at most 65535 (a TCP port; 0 picks a free one) (got 70000)',
          `apps[0].appid: must be 'wx' followed by 16 lowercase hex digits, e.g. wx0123456789abcdef (got "wxNOTVALID")`,
          'apps[0].tokenKind: must be stable or classic (got "fast")',
          'apps[0].refreshLeadSeconds: must be at least 60 (seconds before WeChat expiry to refresh) (got 5)',
        ],
      },
      {
        name: 'a wrong-typed secret is never echoed',
        tree: { ...base(), apps: [{ appid: APPID, secret: 12345678 }] },
        expected: [
          'apps[0].secret: must be a string; use ${env:NAME} or secretFile instead of a literal',
        ],
      },
      {
        name: 'missing secret',
        tree: { ...base(), apps: [{ appid: APPID }] },
        expected: [
          'apps[0].secret: is missing; set secret (e.g. ${env:WX_APP_SECRET}) or secretFile',
        ],
      },
      {
        name: 'secret and secretFile together',
        tree: { ...base(), apps: [{ appid: APPID, secret: SECRET, secretFile: '/run/x' }] },
        expected: ['apps[0].secretFile: is set together with secret; keep only one of them'],
      },
      {
        name: 'missing environment variable',
        tree: { ...base(), apps: [{ appid: APPID, secret: '${env:WX_SECRET_NOT_SET}' }] },
        expected: [
          'apps[0].secret: refers to environment variable WX_SECRET_NOT_SET, which is not set; export it or change the value',
        ],
      },
      {
        name: 'bad key hash, client for an unconfigured app',
        tree: {
          ...base(),
          clients: [{ name: 'svc', keySha256: SECRET, apps: [APPID], scopes: ['token:read'] }],
        },
        expected: [
          'clients[0].keySha256: must be 64 hex digits, the SHA-256 of the key; `wxbroker hash-key` prints it',
        ],
      },
      {
        name: 'client names an app that is not configured, and a bad scope',
        tree: {
          ...base(),
          clients: [
            {
              name: 'svc',
              keySha256: KEY_HASH,
              apps: ['wx00000000000000ff'],
              scopes: ['token:read'],
            },
          ],
        },
        expected: [
          'clients[0].apps[0]: is not one of the configured apps; add it under apps or remove it here (got "wx00000000000000ff")',
        ],
      },
      {
        name: 'bad scope and a missing key',
        tree: { ...base(), clients: [{ name: 'svc', apps: ['*'], scopes: ['token:write'] }] },
        expected: [
          'clients[0].scopes[0]: must be one of token:read, token:invalidate, login, admin, gateway (got "token:write")',
        ],
      },
      {
        name: 'duplicate apps',
        tree: {
          ...base(),
          apps: [
            { appid: APPID, secret: SECRET },
            { appid: APPID, secret: SECRET },
          ],
        },
        expected: ['apps[1].appid: duplicates apps[0].appid; list each app once'],
      },
      {
        name: 'redis URL with a password is masked',
        tree: { ...base(), store: { redis: 'http://:hunter2-password@redis:6379' } },
        expected: [
          'store.redis: must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0 (got "http://***@redis:6379")',
        ],
      },
      {
        name: 'an unset variable in a secretFile path is reported once, not also as unreadable',
        tree: { ...base(), apps: [{ appid: APPID, secretFile: '${env:SECRETS_DIR_NOT_SET}/wx' }] },
        expected: [
          'apps[0].secretFile: refers to environment variable SECRETS_DIR_NOT_SET, which is not set; export it or change the value',
        ],
      },
      {
        name: 'a Redis URL that ioredis cannot parse: out-of-range port, password masked',
        tree: { ...base(), store: { redis: 'redis://:hunter2-password@127.0.0.1:99999/0' } },
        expected: [
          'store.redis: is not a valid URL: the port must be a number from 1 to 65535 (got "redis://***@127.0.0.1:99999/0")',
        ],
      },
      {
        name: 'a Redis URL from WXBROKER_STORE_REDIS with a non-numeric port',
        tree: base(),
        env: { WXBROKER_STORE_REDIS: 'redis://:hunter2-password@h:abc/0' },
        expected: [
          'store.redis: is not a valid URL: the port must be a number from 1 to 65535 (got "redis://***@h:abc/0")',
        ],
      },
      {
        name: 'Redis URLs that parse but cannot run, each named by its index',
        tree: {
          ...base(),
          store: {
            redis: [
              'redis://h:0/0',
              'redis://h:6379/zero',
              'redis://h:6379/0?password=hunter2-password',
              'redis://h:6379/0#x',
              'redis://bad!host:6379/0',
              'redis://:100%-sure@h:6379/0',
              'redis://:pass/word@h:6379/0',
              'REDISS://h:6379/0',
            ],
          },
        },
        expected: [
          'store.redis[0]: has port 0; the port must be a number from 1 to 65535 (got "redis://h:0/0")',
          'store.redis[1]: has a path that is not a database number; end the URL with /<number>, e.g. redis://127.0.0.1:6379/0 (got "redis://h:6379/zero")',
          'store.redis[2]: has a query (?...); remove it: the password goes before the host, the database number in the path (/0), and wxbroker sets the connection options itself (got "redis://h:6379/0?***")',
          'store.redis[3]: has a fragment (#...); remove it, or write # in a password as %23 (got "redis://h:6379/0#x")',
          'store.redis[4]: has a host that is not an IP address or a host name; e.g. redis://127.0.0.1:6379/0 (got "redis://bad!host:6379/0")',
          'store.redis[5]: has a % in the user name or password that is not followed by two hex digits; write % as %25 (got "redis://***@h:6379/0")',
          'store.redis[6]: is not a valid URL: a / ? or # comes before the @; percent-encode them in the user name or password (/ as %2F, ? as %3F, # as %23) (got "redis://***@h:6379/0")',
          'store.redis[7]: must be a redis:// or rediss:// URL, e.g. redis://127.0.0.1:6379/0 (got "REDISS://h:6379/0")',
        ],
      },
      {
        name: 'WeChat base URLs: credentials, bad ports, paths, queries, other schemes',
        tree: {
          ...base(),
          wechat: {
            baseUrl: 'https://user:hunter2-password@api.weixin.qq.com',
            fallbackBaseUrls: [
              'https://api2.weixin.qq.com:abc',
              'https://api2.weixin.qq.com:0',
              'https://proxy.example/wechat',
              'https://api2.weixin.qq.com/?x=1',
              'ftp://api2.weixin.qq.com',
            ],
          },
        },
        expected: [
          'wechat.baseUrl: holds a user name or password; remove "user:password@" (WeChat authenticates with the appid and secret) (got "https://***@api.weixin.qq.com")',
          'wechat.fallbackBaseUrls[0]: is not a valid URL: the port must be a number from 1 to 65535 (got "https://api2.weixin.qq.com:abc")',
          'wechat.fallbackBaseUrls[1]: has port 0; the port must be a number from 1 to 65535 (got "https://api2.weixin.qq.com:0")',
          'wechat.fallbackBaseUrls[2]: has a path, query or fragment; give only the scheme, host and port, e.g. https://api.weixin.qq.com (wxbroker adds /cgi-bin/... itself) (got "https://proxy.example/wechat")',
          'wechat.fallbackBaseUrls[3]: has a path, query or fragment; give only the scheme, host and port, e.g. https://api.weixin.qq.com (wxbroker adds /cgi-bin/... itself) (got "https://api2.weixin.qq.com/?***")',
          'wechat.fallbackBaseUrls[4]: must be an http:// or https:// URL, e.g. https://api.weixin.qq.com (got "ftp://api2.weixin.qq.com")',
        ],
      },
      {
        name: 'listen.host that is neither an IP address nor a host name',
        tree: { ...base(), listen: { host: 'not a host!' } },
        expected: [
          'listen.host: must be an IP address (e.g. 127.0.0.1, 0.0.0.0, or :: without brackets) or a host name (letters, digits, hyphens, dots; e.g. localhost) (got "not a host!")',
        ],
      },
      {
        name: 'listen.host from WXBROKER_LISTEN_HOST that looks like IPv4 but is not',
        tree: base(),
        env: { WXBROKER_LISTEN_HOST: '10.0.0.300' },
        expected: [
          'listen.host: must be an IP address (e.g. 127.0.0.1, 0.0.0.0, or :: without brackets) or a host name (letters, digits, hyphens, dots; e.g. localhost) (got "10.0.0.300")',
        ],
      },
      {
        name: 'listen.host: an IPv6 address in brackets',
        tree: { ...base(), listen: { host: '[::1]' } },
        expected: [
          'listen.host: must be an IP address (e.g. 127.0.0.1, 0.0.0.0, or :: without brackets) or a host name (letters, digits, hyphens, dots; e.g. localhost) (got "[::1]")',
        ],
      },
      {
        name: 'two clients with the same keySha256 (in any letter case)',
        tree: {
          ...base(),
          clients: [
            { name: 'order-service', keySha256: KEY_HASH, apps: ['*'], scopes: ['token:read'] },
            { name: 'shop', keySha256: KEY_HASH.toUpperCase(), apps: ['*'], scopes: ['login'] },
          ],
        },
        expected: [
          'clients[1].keySha256: is the same key as clients[0] (order-service); give each client its own key',
        ],
      },
      {
        name: "a client's key that is another client's keySha256, and two equal keys",
        tree: {
          ...base(),
          clients: [
            { name: 'a', keySha256: KEY_HASH, apps: ['*'], scopes: ['token:read'] },
            { name: 'b', key: KEY, apps: ['*'], scopes: ['token:read'] },
            { name: 'c', key: 'another-key-of-enough-length', apps: ['*'], scopes: ['login'] },
            { name: 'd', key: 'another-key-of-enough-length', apps: ['*'], scopes: ['login'] },
          ],
        },
        expected: [
          'clients[1].key: is the same key as clients[0] (a); give each client its own key',
          'clients[3].key: is the same key as clients[2] (c); give each client its own key',
        ],
      },
      {
        name: 'an override for a list entry past the end names the variable once',
        tree: base(),
        env: { WXBROKER_APPS_9_SECRET: 'x' },
        expected: [
          'WXBROKER_APPS_9_SECRET: apps[9] does not exist: apps has 1 entry and indexes must be contiguous; add it in the file, or use the next index (WXBROKER_APPS_1_SECRET)',
        ],
      },
      {
        name: 'no apps',
        tree: { apps: [] },
        expected: ['apps: is empty; configure at least one app'],
      },
      {
        name: 'unknown environment override',
        tree: base(),
        env: { WXBROKER_LISTEN_PROT: '80' },
        expected: [
          'WXBROKER_LISTEN_PROT: is not a known override; name a setting in upper snake case, e.g. WXBROKER_LISTEN_PORT or WXBROKER_APPS_0_SECRET',
        ],
      },
      {
        name: 'bad value from an environment override names the setting',
        tree: base(),
        env: { WXBROKER_APPS_0_DAILY_QUOTA: 'lots' },
        expected: [
          'apps[0].dailyQuota: must be a number (upstream token calls per day) (got "lots")',
        ],
      },
      {
        name: 'a secret from an override is never echoed',
        tree: base(),
        env: { WXBROKER_APPS_0_SECRET: '' },
        expected: ['apps[0].secret: is empty; set it through ${env:NAME} or use secretFile'],
      },
    ]
  for (const c of cases) {
    it(c.name, () => {
      expect(problems(c.tree, c.env)).toEqual(c.expected)
    })
  }

  it('unreadable secretFile is reported with the path, not a value', () => {
    const out = problems({
      ...base(),
      apps: [{ appid: APPID, secretFile: '/nonexistent/wx_secret' }],
    })
    expect(out).toEqual([
      'apps[0].secretFile: cannot be read (ENOENT: /nonexistent/wx_secret); check the path and that the broker may read it',
    ])
  })

  it('the whole message lists each problem on its own line', () => {
    try {
      buildConfig({ apps: [{ appid: 'bad', secret: SECRET }], listen: { host: '' } }, 'x.yaml', {})
      expect.unreachable()
    } catch (e) {
      expect((e as Error).message).toMatch(
        /^invalid configuration in x\.yaml \(2 problems\):\n {2}listen\.host: .*\n {2}apps\[0\]\.appid: /
      )
    }
  })
})

describe('config loading', () => {
  it('applies defaults, ${env:} interpolation, secretFile and WXBROKER_* overrides', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxb-config-'))
    const secretFile = join(dir, 'secret')
    writeFileSync(secretFile, 'file-secret\n')
    const file = join(dir, 'wxbroker.yaml')
    writeFileSync(
      file,
      [
        'apps:',
        `  - appid: ${APPID}`,
        '    secret: ${env:MY_SECRET}',
        '  - appid: wx00000000000000aa',
        `    secretFile: ${secretFile}`,
        '    tokenKind: classic',
        'clients:',
        '  - name: svc',
        '    key: ${env:SVC_KEY}',
        '    apps: ["*"]',
        '    scopes: [token:read, login]',
      ].join('\n')
    )
    const config = loadConfig({
      path: file,
      env: {
        MY_SECRET: 'from-env',
        SVC_KEY: 'a-client-key-of-enough-length',
        WXBROKER_LISTEN_PORT: '9000',
        WXBROKER_STORE_REDIS: 'redis://127.0.0.1:7001, redis://127.0.0.1:7002',
        WXBROKER_APPS_1_DAILY_QUOTA: '50',
        WXBROKER_STATUS_PAGE_REQUIRE_ADMIN: 'true',
        WXBROKER_METRICS_KEY_SHA256: KEY_HASH,
      },
    })
    expect(config.listen).toEqual({ host: '127.0.0.1', port: 9000 })
    expect(config.store).toEqual({
      kind: 'redis',
      nodes: ['redis://127.0.0.1:7001', 'redis://127.0.0.1:7002'],
      keyPrefix: 'wxb',
    })
    expect(config.wechat).toEqual({
      baseUrl: 'https://api.weixin.qq.com',
      fallbackBaseUrls: [],
      timeoutMs: 5000,
      verifySecretOnStart: true,
    })
    expect(config.apps).toEqual([
      {
        appid: APPID,
        secret: 'from-env',
        tokenKind: 'stable',
        refreshLeadSeconds: 600,
        dailyQuota: 2000,
        quotaWarnRatio: 0.8,
        invalidateCooldownSeconds: 30,
        scheduledReserve: 200,
        reportRefreshDailyLimit: 100,
        clientReportRefreshDailyLimit: 20,
        foreignCheckSeconds: 60,
      },
      {
        appid: 'wx00000000000000aa',
        secret: 'file-secret',
        tokenKind: 'classic',
        refreshLeadSeconds: 600,
        dailyQuota: 50,
        quotaWarnRatio: 0.8,
        invalidateCooldownSeconds: 30,
        scheduledReserve: 5,
        reportRefreshDailyLimit: 100,
        clientReportRefreshDailyLimit: 20,
        foreignCheckSeconds: 60,
      },
    ])
    expect(config.clients[0]?.keyHash.toString('hex')).toBe(KEY_HASH)
    expect(config.clients[0]?.apps).toBeNull()
    expect(config.statusPage).toEqual({ enabled: true, requireAdmin: true, secureCookie: false })
    expect(config.metrics.keyHash?.toString('hex')).toBe(KEY_HASH)
    expect(config.http.bodyLimitBytes).toBe(16384)
    expect(Object.isFrozen(config)).toBe(true)
  })

  it('accepts every form of host and URL the runtime can use; base URLs become origins', () => {
    for (const host of [
      'localhost',
      '0.0.0.0',
      '::',
      '::1',
      '10.1.2.3',
      'redis_cache',
      'a.example.com.',
    ]) {
      expect(buildConfig({ ...base(), listen: { host } }, 'x', {}).listen.host).toBe(host)
    }
    const redis = [
      'redis://127.0.0.1:6379/0',
      'rediss://:p%40ss%2Fw%23rd@redis-a.redis.svc:6380/15',
      'redis://user:pw@[::1]:6379',
      'redis://redis_cache',
      'redis://h:6379/',
    ]
    const config = buildConfig(
      {
        ...base(),
        store: { redis },
        wechat: {
          baseUrl: 'https://api.weixin.qq.com/',
          fallbackBaseUrls: ['HTTP://127.0.0.1:8080', 'https://api2.weixin.qq.com:443'],
        },
      },
      'x',
      {}
    )
    expect(config.store).toEqual({ kind: 'redis', nodes: redis, keyPrefix: 'wxb' })
    expect(config.wechat.baseUrl).toBe('https://api.weixin.qq.com')
    expect(config.wechat.fallbackBaseUrls).toEqual([
      'http://127.0.0.1:8080',
      'https://api2.weixin.qq.com',
    ])
  })

  it('overrides may add list entries at the next index, in numeric order (apps[2] before apps[10])', () => {
    const env: Record<string, string> = {}
    for (let i = 1; i <= 10; i++) {
      env[`WXBROKER_APPS_${i}_APPID`] = `wx${i.toString(16).padStart(16, '0')}`
      env[`WXBROKER_APPS_${i}_SECRET`] = `secret-${i}`
    }
    const config = buildConfig(base(), 'x', env)
    expect(config.apps.map((a) => a.secret)).toEqual([
      SECRET,
      ...Array.from({ length: 10 }, (_, i) => `secret-${i + 1}`),
    ])
  })

  it('no store configured means the in-memory store', () => {
    expect(buildConfig(base(), 'x', {}).store).toEqual({ kind: 'memory' })
  })

  it('a missing --config file is an error with the fix', () => {
    expect(() => loadConfig({ path: '/nonexistent/wxbroker.yaml', env: {} })).toThrow(
      'invalid configuration in /nonexistent/wxbroker.yaml (1 problem):\n  (file): does not exist; pass --config PATH, set WXBROKER_CONFIG, or create wxbroker.yaml here'
    )
  })

  it('YAML syntax errors name the line', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxb-config-'))
    const file = join(dir, 'bad.yaml')
    writeFileSync(file, 'apps:\n  - appid: [unclosed\n')
    expect(() => loadConfig({ path: file, env: {} })).toThrow(/line \d+: YAML /)
  })

  it('WXBROKER_CONFIG picks the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxb-config-'))
    const file = join(dir, 'c.yaml')
    writeFileSync(file, `apps: [{appid: ${APPID}, secret: x}]\n`)
    expect(loadConfig({ env: { WXBROKER_CONFIG: file } }).source).toBe(file)
  })
})
