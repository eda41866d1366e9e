import { z } from 'zod'
import { patternProblem } from '../gateway/allow-list.js'
import { isHostName } from './host-name.js'
import { keyDigest } from './key-digest.js'
import { parseBaseUrl, redisUrlProblem } from './urls.js'

// The shape of wxbroker.yaml after `${env:NAME}` interpolation and WXBROKER_* overrides. Strict
// objects: an unknown key is an error, never silently ignored. Each `error` text is the fix the
// operator reads after the field path (see format-issues.ts).

export const APPID_PATTERN = /^wx[0-9a-f]{16}$/
export const SCOPES = ['token:read', 'token:invalidate', 'login', 'admin', 'gateway'] as const
export type Scope = (typeof SCOPES)[number]
/** What a client's gateway token endpoints hand out: the app's token, or an alias bound to the client. */
export const TOKEN_MODES = ['real', 'alias'] as const
export type TokenMode = (typeof TOKEN_MODES)[number]
/** SDKs put the client key into query strings without encoding it. */
const URL_SAFE_KEY = /^[A-Za-z0-9_-]+$/

const int = (min: number, max: number, what: string) =>
  z
    .number({ error: `must be a number (${what})` })
    .int({ error: `must be a whole number (${what})` })
    .min(min, { error: `must be at least ${min} (${what})` })
    .max(max, { error: `must be at most ${max} (${what})` })

// The WeChat base URL becomes its origin (no trailing slash, default port dropped), which is what
// the engine prefixes to /cgi-bin/... paths.
const url = (what: string) =>
  z.string({ error: `must be a URL string (${what})` }).transform((value, ctx) => {
    const parsed = parseBaseUrl(value)
    if ('origin' in parsed) return parsed.origin
    ctx.addIssue({ code: 'custom', message: parsed.problem, input: value })
    return z.NEVER
  })

const redisUrl = z
  .string({ error: 'must be a redis:// or rediss:// URL string' })
  .superRefine((value, ctx) => {
    const problem = redisUrlProblem(value)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: value })
  })

const sha256Hex = z
  .string({ error: 'must be a string of 64 hex digits' })
  .regex(/^[0-9a-f]{64}$/i, {
    error: 'must be 64 hex digits, the SHA-256 of the key; `wxbroker hash-key` prints it',
  })

const listenOn = (defaultPort: number) =>
  z
    .object({
      host: z
        .string({ error: 'must be a host name or IP address string' })
        .refine(isHostName, {
          error:
            'must be an IP address (e.g. 127.0.0.1, 0.0.0.0, or :: without brackets) or a host name (letters, digits, hyphens, dots; e.g. localhost)',
        })
        .default('127.0.0.1'),
      port: int(0, 65535, 'a TCP port; 0 picks a free one').default(defaultPort),
    })
    .strict()
const listen = listenOn(8700)

const gatewayPath = z
  .string({ error: 'must be a path string such as /wxa/msg_sec_check or /datacube/*' })
  .superRefine((value, ctx) => {
    const problem = patternProblem(value)
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: value })
  })

const store = z
  .object({
    redis: z.union([redisUrl, z.array(redisUrl).min(1, { error: 'must list at least one node' })], {
      error: 'must be a redis:// URL or a list of them (independent nodes for a redlock quorum)',
    }),
    keyPrefix: z
      .string({ error: 'must be a string' })
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, {
        error: 'must be 1-64 characters of letters, digits, _ . : -',
      })
      .default('wxb'),
  })
  .strict()

const wechat = z
  .object({
    baseUrl: url('WeChat API base URL').default('https://api.weixin.qq.com'),
    fallbackBaseUrls: z.array(url('a fallback WeChat API base URL')).default([]),
    timeoutMs: int(100, 120_000, 'milliseconds per upstream request').default(5000),
    verifySecretOnStart: z.boolean({ error: 'must be true or false' }).default(true),
  })
  .strict()

const app = z
  .object({
    appid: z
      .string({ error: "must be a string: 'wx' followed by 16 lowercase hex digits" })
      .regex(APPID_PATTERN, {
        error: "must be 'wx' followed by 16 lowercase hex digits, e.g. wx0123456789abcdef",
      }),
    secret: z
      .string({ error: 'must be a string; use ${env:NAME} or secretFile instead of a literal' })
      .min(1, { error: 'is empty; set it through ${env:NAME} or use secretFile' })
      .optional(),
    secretFile: z
      .string({ error: 'must be a file path string' })
      .min(1, { error: 'is empty; give the path of a file holding the app secret' })
      .optional(),
    tokenKind: z
      .enum(['stable', 'classic'], { error: 'must be stable or classic' })
      .default('stable'),
    refreshLeadSeconds: int(60, 6600, 'seconds before WeChat expiry to refresh').default(600),
    dailyQuota: int(1, 1_000_000, 'upstream token calls per day').default(2000),
    quotaWarnRatio: z
      .number({ error: 'must be a number between 0 and 1' })
      .gt(0, { error: 'must be greater than 0 and at most 1, e.g. 0.8' })
      .max(1, { error: 'must be greater than 0 and at most 1, e.g. 0.8' })
      .default(0.8),
    invalidateCooldownSeconds: int(0, 3600, 'seconds between report-driven refreshes').default(30),
    scheduledReserve: int(
      0,
      1_000_000,
      'daily upstream calls only scheduled refreshes may use; default 10% of dailyQuota'
    ).optional(),
    reportRefreshDailyLimit: int(0, 1_000_000, 'report-driven refreshes per day').default(100),
    clientReportRefreshDailyLimit: int(
      0,
      1_000_000,
      'report-driven refreshes one client may cause per day'
    ).default(20),
    foreignCheckSeconds: int(
      0,
      3600,
      'seconds between checks for refreshes by someone else; 0 turns them off'
    ).default(60),
  })
  .strict()

const client = z
  .object({
    name: z.string({ error: 'must be a string' }).regex(/^[A-Za-z0-9_.-]{1,64}$/, {
      error: 'must be 1-64 characters of letters, digits, _ . - (it is a metric label)',
    }),
    keySha256: sha256Hex.optional(),
    key: z
      .string({ error: 'must be a string; prefer keySha256 or ${env:NAME}' })
      .min(16, {
        error: 'is too short; use at least 16 characters (`wxbroker hash-key` makes one)',
      })
      .optional(),
    apps: z
      .array(
        z
          .string({ error: 'must be an appid string or "*"' })
          .refine((v) => v === '*' || APPID_PATTERN.test(v), {
            error: 'must be an appid (\'wx\' + 16 lowercase hex digits) or "*" for every app',
          }),
        { error: 'must be a list of appids, or ["*"]' }
      )
      .min(1, { error: 'is empty; list the appids this client may use, or ["*"]' }),
    scopes: z
      .array(z.enum(SCOPES, { error: `must be one of ${SCOPES.join(', ')}` }), {
        error: `must be a list of scopes (${SCOPES.join(', ')})`,
      })
      .min(1, { error: `is empty; give at least one of ${SCOPES.join(', ')}` }),
    tokenMode: z
      .enum(TOKEN_MODES, {
        error: 'must be real (the app token) or alias (a token only the gateway accepts)',
      })
      .default('real'),
    gatewayPaths: z
      .array(gatewayPath, { error: 'must be a list of paths, e.g. ["/wxa/*"]' })
      .min(1, { error: 'is empty; list the paths this client may call, or remove it' })
      .optional(),
  })
  .strict()

const metrics = z
  .object({
    keySha256: sha256Hex.optional(),
    key: z
      .string({ error: 'must be a string' })
      .min(16, { error: 'is too short; use at least 16 characters' })
      .optional(),
  })
  .strict()

// Limits of the node:http server (src/server/http-server.ts). Node's own defaults let a slow client hold
// a request open for 5 minutes and leave connections uncapped.
export const HTTP_DEFAULTS = Object.freeze({
  bodyLimitBytes: 16 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 1024,
})

const http = z
  .object({
    bodyLimitBytes: int(256, 10 * 1024 * 1024, 'largest request body accepted').default(
      HTTP_DEFAULTS.bodyLimitBytes
    ),
    headersTimeoutMs: int(100, 600_000, 'milliseconds a client has to send the headers').default(
      HTTP_DEFAULTS.headersTimeoutMs
    ),
    requestTimeoutMs: int(100, 600_000, 'milliseconds a client has to send the request').default(
      HTTP_DEFAULTS.requestTimeoutMs
    ),
    keepAliveTimeoutMs: int(
      100,
      600_000,
      'milliseconds an idle keep-alive connection stays open'
    ).default(HTTP_DEFAULTS.keepAliveTimeoutMs),
    maxConnections: int(1, 1_000_000, 'open client connections; more are refused').default(
      HTTP_DEFAULTS.maxConnections
    ),
  })
  .strict()

export const GATEWAY_DEFAULTS = Object.freeze({
  port: 8701,
  maxBodyBytes: 1024 * 1024,
  timeoutMs: 10_000,
  connections: 32,
  refetchGuard: Object.freeze({ checkAfter: 3, refuseAfter: 120, windowSeconds: 60 }),
})

// The WeChat-compatible gateway (src/gateway): off unless this section is present.
const gateway = z
  .object({
    listen: listenOn(GATEWAY_DEFAULTS.port).default({
      host: '127.0.0.1',
      port: GATEWAY_DEFAULTS.port,
    }),
    allowPaths: z
      .array(gatewayPath, { error: 'must be a list of paths, e.g. ["/wxa/getwxadevinfo"]' })
      .default([]),
    maxBodyBytes: int(1024, 10 * 1024 * 1024, 'largest request body forwarded to WeChat').default(
      GATEWAY_DEFAULTS.maxBodyBytes
    ),
    timeoutMs: int(100, 120_000, 'milliseconds to wait for WeChat per forwarded call').default(
      GATEWAY_DEFAULTS.timeoutMs
    ),
    connections: int(1, 1024, 'connections kept open to WeChat').default(
      GATEWAY_DEFAULTS.connections
    ),
    refetchGuard: z
      .object({
        checkAfter: int(
          1,
          100_000,
          'fetches of one unchanged token by one key within windowSeconds before the broker asks WeChat whether it still works'
        ).default(GATEWAY_DEFAULTS.refetchGuard.checkAfter),
        refuseAfter: int(
          2,
          100_000,
          'such fetches after which a key is answered 45011 while WeChat says the token works'
        ).default(GATEWAY_DEFAULTS.refetchGuard.refuseAfter),
        windowSeconds: int(1, 3600, 'seconds the fetches are counted over').default(
          GATEWAY_DEFAULTS.refetchGuard.windowSeconds
        ),
      })
      .strict()
      .default(GATEWAY_DEFAULTS.refetchGuard),
  })
  .strict()

const statusPage = z
  .object({
    enabled: z.boolean({ error: 'must be true or false' }).default(true),
    requireAdmin: z.boolean({ error: 'must be true or false' }).default(false),
    /** Mark the sign-in cookie Secure even when no proxy says the request came over HTTPS. */
    secureCookie: z.boolean({ error: 'must be true or false' }).default(false),
  })
  .strict()

const log = z
  .object({
    level: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'], {
        error: 'must be one of trace, debug, info, warn, error, fatal, silent',
      })
      .default('info'),
  })
  .strict()

export const configSchema = z
  .object({
    listen: listen.default({ host: '127.0.0.1', port: 8700 }),
    store: store.optional(),
    wechat: wechat.default({
      baseUrl: 'https://api.weixin.qq.com',
      fallbackBaseUrls: [],
      timeoutMs: 5000,
      verifySecretOnStart: true,
    }),
    apps: z
      .array(app, { error: 'must be a list of apps (appid, secret or secretFile, ...)' })
      .min(1, { error: 'is empty; configure at least one app' }),
    clients: z.array(client, { error: 'must be a list of clients' }).default([]),
    metrics: metrics.default({}),
    http: http.default(HTTP_DEFAULTS),
    gateway: gateway.optional(),
    statusPage: statusPage.default({ enabled: true, requireAdmin: false, secureCookie: false }),
    log: log.default({ level: 'info' }),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const seenApps = new Map<string, number>()
    cfg.apps.forEach((a, i) => {
      if (a.secret === undefined && a.secretFile === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['apps', i, 'secret'],
          message: 'is missing; set secret (e.g. ${env:WX_APP_SECRET}) or secretFile',
        })
      }
      if (a.secret !== undefined && a.secretFile !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['apps', i, 'secretFile'],
          message: 'is set together with secret; keep only one of them',
        })
      }
      if (a.scheduledReserve !== undefined && a.scheduledReserve >= a.dailyQuota) {
        ctx.addIssue({
          code: 'custom',
          path: ['apps', i, 'scheduledReserve'],
          message: `must be below dailyQuota (${a.dailyQuota}), or reports and admin refreshes could never refresh`,
          input: a.scheduledReserve,
        })
      }
      if (a.foreignCheckSeconds > 0 && a.foreignCheckSeconds < 10) {
        ctx.addIssue({
          code: 'custom',
          path: ['apps', i, 'foreignCheckSeconds'],
          message: 'must be 0 (off) or at least 10; each check is one call to WeChat',
          input: a.foreignCheckSeconds,
        })
      }
      const first = seenApps.get(a.appid)
      if (first === undefined) seenApps.set(a.appid, i)
      else
        ctx.addIssue({
          code: 'custom',
          path: ['apps', i, 'appid'],
          message: `duplicates apps[${first}].appid; list each app once`,
        })
    })
    const names = new Map<string, number>()
    // By digest, so that a key and another client's keySha256 of it count as the same key; the
    // first client would win every request and the second would be silently dead.
    const keys = new Map<string, number>()
    cfg.clients.forEach((c, i) => {
      if (c.key === undefined && c.keySha256 === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i, 'keySha256'],
          message: 'is missing; set keySha256 (from `wxbroker hash-key`) or key',
        })
      }
      if (c.key !== undefined && c.keySha256 !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i, 'key'],
          message: 'is set together with keySha256; keep only one of them',
        })
      }
      const first = names.get(c.name)
      if (first === undefined) names.set(c.name, i)
      else
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i, 'name'],
          message: `duplicates clients[${first}].name; give each client its own name`,
        })
      const digest = keyDigest(c)?.toString('hex')
      const sameKey = digest === undefined ? undefined : keys.get(digest)
      if (digest !== undefined && sameKey === undefined) keys.set(digest, i)
      if (sameKey !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i, c.keySha256 !== undefined ? 'keySha256' : 'key'],
          message: `is the same key as clients[${sameKey}] (${cfg.clients[sameKey]?.name ?? ''}); give each client its own key`,
        })
      }
      const gatewayScope = c.scopes.includes('gateway')
      if (c.tokenMode === 'alias' && !gatewayScope) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i, 'tokenMode'],
          message: 'is alias but scopes lack gateway; add gateway to scopes or remove tokenMode',
        })
      }
      if (c.gatewayPaths !== undefined && c.tokenMode !== 'alias') {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i, 'gatewayPaths'],
          message:
            'needs tokenMode: alias: a real access_token from the gateway works for every allowed path (and at WeChat itself), so only an alias token can be held to these paths',
        })
      }
      if (gatewayScope && c.key !== undefined && !URL_SAFE_KEY.test(c.key)) {
        ctx.addIssue({
          code: 'custom',
          path: ['clients', i, 'key'],
          message:
            'holds characters other than A-Z a-z 0-9 _ -, and SDKs put the key into URLs unencoded; use a key from `wxbroker hash-key`',
        })
      }
      c.apps.forEach((appid, j) => {
        if (appid !== '*' && APPID_PATTERN.test(appid) && !seenApps.has(appid)) {
          ctx.addIssue({
            code: 'custom',
            path: ['clients', i, 'apps', j],
            message: 'is not one of the configured apps; add it under apps or remove it here',
            input: appid,
          })
        }
      })
    })
    if (cfg.metrics.key !== undefined && cfg.metrics.keySha256 !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['metrics', 'key'],
        message: 'is set together with keySha256; keep only one of them',
      })
    }
    const gw = cfg.gateway
    if (gw) {
      const wildcard = (host: string): boolean => host === '0.0.0.0' || host === '::'
      if (
        gw.listen.port !== 0 &&
        gw.listen.port === cfg.listen.port &&
        (gw.listen.host === cfg.listen.host ||
          wildcard(gw.listen.host) ||
          wildcard(cfg.listen.host))
      ) {
        ctx.addIssue({
          code: 'custom',
          path: ['gateway', 'listen', 'port'],
          message: `is listen.port (${cfg.listen.port}) too; the gateway needs a port of its own, e.g. ${GATEWAY_DEFAULTS.port}`,
          input: gw.listen.port,
        })
      }
      if (gw.refetchGuard.refuseAfter <= gw.refetchGuard.checkAfter) {
        ctx.addIssue({
          code: 'custom',
          path: ['gateway', 'refetchGuard', 'refuseAfter'],
          message: `must be above checkAfter (${gw.refetchGuard.checkAfter}): a key is refused only after WeChat has said its token works`,
          input: gw.refetchGuard.refuseAfter,
        })
      }
    }
    if (cfg.http.headersTimeoutMs > cfg.http.requestTimeoutMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['http', 'headersTimeoutMs'],
        message: `is above http.requestTimeoutMs (${cfg.http.requestTimeoutMs}); the headers are part of the request, so make it at most that`,
      })
    }
  })

export type RawConfig = z.input<typeof configSchema>
export type ParsedConfig = z.output<typeof configSchema>
