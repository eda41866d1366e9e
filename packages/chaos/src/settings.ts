import { createHash, randomBytes } from 'node:crypto'
import type { SimAppInit } from '@wxbroker/wechat-sim'

// The soak's world. The replicas run the real CLI with the production engine tuning (the CLI has
// no way to change it), so WeChat's token lifetimes are shortened around those fixed timings:
//
// - classic: 60 s tokens. With refreshLeadSeconds at its minimum (60) the engine plans the refresh
//   at half the life (30 s) and serves a token up to its WeChat expiry. WeChat's overlap is set to
//   30 s, the shortest that keeps the engine's promise: a refresh at the planned time or later
//   retires the previous token no earlier than its own expiry. A refresh made before the planned
//   time (a report, an admin refresh, someone else with the secret) retires it early, as at WeChat.
// - stable: the engine plans stable refreshes 80% of WeChat's renew window (300 s, a constant of the
//   engine) before expiry, so a stable token must live longer than 240 s: 330 s, with WeChat's real
//   300 s window, i.e. a new stable token every 90-120 s and 30 s of idempotent normal mode.
//
// The check for refreshes by someone else runs every 10 s on the classic app (the config's minimum; a
// third of its 30 s overlap, where production's default is a fifth: 60 s of 300 s), so that it can
// notice one before WeChat retires the broker's token.
//
// What stays at production values and matters for the faults: the lock lease (10 s, extended
// every third while a refresh runs), a contended replica's next look (15 s), the store sync (5 s),
// the failure back-off (30 s, doubling), the transient back-off (5 s), the report cooldown (30 s)
// and the start-up secret check (one normal-mode stable_token call per app per replica start).

export type AppName = 'classic' | 'stable'

export interface ChaosApp {
  name: AppName
  appid: string
  kind: AppName
  /**
   * The WeChat token endpoint of this kind: a fault there meets this app's refreshes (and, on
   * stable_token, a replica start's secret check of the classic app).
   */
  tokenApi: '/cgi-bin/token' | '/cgi-bin/stable_token'
  lifeSeconds: number
  /** Classic: WeChat's overlap after a refresh. Stable: WeChat's renew window. */
  overlapSeconds: number
  /** apps[].foreignCheckSeconds: well inside the overlap, as production's 60 s is of 300 s. */
  foreignCheckSeconds: number
}

export const APPS: readonly ChaosApp[] = [
  {
    name: 'classic',
    appid: 'wx0000000000c1a551',
    kind: 'classic',
    tokenApi: '/cgi-bin/token',
    lifeSeconds: 60,
    overlapSeconds: 30,
    foreignCheckSeconds: 10,
  },
  {
    name: 'stable',
    appid: 'wx00000000005ab1e0',
    kind: 'stable',
    tokenApi: '/cgi-bin/stable_token',
    lifeSeconds: 330,
    overlapSeconds: 300,
    foreignCheckSeconds: 60,
  },
]

export function app(name: AppName): ChaosApp {
  return APPS.find((a) => a.name === name)!
}

/** The engine's fixed timings (DEFAULT_TUNING) and the soak's own bounds, in one place. */
export const TIMING = {
  /** apps[].refreshLeadSeconds: the schema's minimum. */
  refreshLeadSeconds: 60,
  /** The engine's stable refresh point: 80% of its 300 s overlap constant before expiry. */
  stableRefreshBeforeExpiryMs: 240_000,
  /** The engine's jitter: at most min(30 s, a tenth of the lead); only ever a delay. */
  classicJitterMs: 6_000,
  stableJitterMs: 30_000,
  /** The engine's refresh lease (lockTtlMs). */
  lockTtlMs: 10_000,
  /** How long a replica that found the lock taken waits before it looks again (retryDelayMs). */
  contendedRetryMs: 15_000,
  /** apps[].invalidateCooldownSeconds (the default): report-driven and admin refreshes. */
  cooldownMs: 30_000,
  /**
   * wechat.timeoutMs. Above the default 5 s so that "latency beyond the lease" exists at all (a
   * 5 s timeout cuts every call before the 10 s lease could lapse) and a paused lock holder can
   * still read its held answer after the pause.
   */
  wechatTimeoutMs: 30_000,
  /** BrokerTokenProvider skewSeconds: 30 s by default, scaled down with the token lifetimes. */
  clientSkewSeconds: 2,
  /** Every replica ready, serving a token WeChat accepts, within this long after a fault ends. */
  recoveryBoundMs: 20_000,
  /** How long the soak keeps waiting past the bound, to measure a late recovery (and attribute). */
  recoveryCapMs: 90_000,
} as const

/** Everything secret about one run: fresh for every run, never printed. */
export interface Secrets {
  appSecrets: Record<AppName, string>
  clientKey: string
  driverKey: string
}

export function newSecrets(): Secrets {
  const token = (): string => randomBytes(18).toString('base64url')
  return {
    appSecrets: { classic: token(), stable: token() },
    clientKey: `wxb_${token()}`,
    driverKey: `wxb_${token()}`,
  }
}

const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex')

/** The simulator's apps: the shortened lifetimes above. */
export function simApps(secrets: Secrets): SimAppInit[] {
  return APPS.map((a) => ({
    appid: a.appid,
    secret: secrets.appSecrets[a.name],
    tokenExpiresIn: a.lifeSeconds,
    tokenOverlapSeconds: a.overlapSeconds,
  }))
}

/** The environment a replica needs for the `${env:...}` references of `brokerConfig`. */
export function brokerEnv(secrets: Secrets): Record<string, string> {
  return {
    CHAOS_CLASSIC_SECRET: secrets.appSecrets.classic,
    CHAOS_STABLE_SECRET: secrets.appSecrets.stable,
  }
}

/** One replica's wxbroker.yaml: a 3-node redlock quorum, both apps, a client and the driver. */
export function brokerConfig(opts: {
  port: number
  redisUrls: string[]
  wechatUrl: string
  secrets: Secrets
}): string {
  const apps = APPS.map(
    (a) => `
  - appid: ${a.appid}
    secret: \${env:CHAOS_${a.name.toUpperCase()}_SECRET}
    tokenKind: ${a.kind}
    refreshLeadSeconds: ${TIMING.refreshLeadSeconds}
    foreignCheckSeconds: ${a.foreignCheckSeconds}`
  ).join('')
  return `
listen: { host: 127.0.0.1, port: ${opts.port} }
store:
  redis: [${opts.redisUrls.map((u) => `"${u}"`).join(', ')}]
  keyPrefix: chaos
wechat: { baseUrl: "${opts.wechatUrl}", timeoutMs: ${TIMING.wechatTimeoutMs} }
apps:${apps}
clients:
  - name: chaos-client
    keySha256: ${sha256(opts.secrets.clientKey)}
    apps: ["*"]
    scopes: [token:read, token:invalidate]
  - name: chaos-driver
    keySha256: ${sha256(opts.secrets.driverKey)}
    apps: ["*"]
    scopes: [token:read, admin]
log: { level: info }
`
}

/** How the soak names a token in its records and logs: never the token itself. */
export function tokenId(token: string): string {
  return sha256(token).slice(0, 12)
}
