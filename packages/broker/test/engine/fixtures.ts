import { randomBytes } from 'node:crypto'
import { startRedis, type RedisServer } from '@wxbroker/testkit'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { afterAll, beforeAll } from 'vitest'
import { createEngine } from '../../src/engine/index.js'
import type {
  AppConfig,
  EngineOptions,
  EngineTuning,
  StoreOptions,
  TokenEngine,
  TokenKind,
} from '../../src/engine/index.js'

/** A fresh appid per test keeps simulator state and Redis keys apart. */
export function newAppid(): string {
  return `wx${randomBytes(8).toString('hex')}`
}

export const SECRET = 'engine-test-secret-0123456789abcdef'

export function app(appid: string, overrides: Partial<AppConfig> = {}): AppConfig {
  return {
    appid,
    secret: SECRET,
    tokenKind: 'classic',
    refreshLeadSeconds: 600,
    dailyQuota: 2000,
    quotaWarnRatio: 0.8,
    invalidateCooldownSeconds: 30,
    scheduledReserve: 0,
    reportRefreshDailyLimit: 100,
    clientReportRefreshDailyLimit: 20,
    // Tests that need the foreign-refresh check turn it on.
    foreignCheckSeconds: 0,
    ...overrides,
  }
}

/** Fast timings for tests; production defaults are in DEFAULT_TUNING. */
export const FAST: Partial<EngineTuning> = {
  lockTtlMs: 1000,
  syncIntervalMs: 500,
  retry: { attempts: 4, baseDelayMs: 40, maxDelayMs: 200 },
  failureBackoffMs: 1000,
  transientBackoffMs: 500,
  maxJitterSeconds: 0.2,
  reconcileQuota: false,
}

export function redisStore(
  nodes: string[],
  keyPrefix = `t${randomBytes(4).toString('hex')}`
): StoreOptions {
  return { kind: 'redis', nodes, keyPrefix }
}

export function options(
  sim: Simulator,
  apps: AppConfig[],
  store: StoreOptions,
  extra: Partial<EngineOptions> = {}
): EngineOptions {
  return {
    apps,
    store,
    wechat: { baseUrl: sim.url, fallbackBaseUrls: [], timeoutMs: 3000 },
    coldStartTimeoutMs: 10_000,
    ...extra,
    tuning: { ...FAST, ...extra.tuning },
  }
}

/** Upstream calls the simulator has seen on one endpoint for one app. */
export async function calls(sim: Simulator, endpoint: string, appid: string): Promise<number> {
  const log = await sim.admin.callLog()
  return log.filter((entry) => entry.endpoint === endpoint && entry.appid === appid).length
}

/** A new app at the simulator and a started engine on the Redis at `redisUrl`, managing it alone. */
export async function startAppEngine(
  sim: Simulator,
  redisUrl: string,
  overrides: Partial<AppConfig> = {}
): Promise<{ appid: string; engine: TokenEngine }> {
  const appid = newAppid()
  await sim.admin.registerApp({ appid, secret: SECRET })
  const engine = createEngine(options(sim, [app(appid, overrides)], redisStore([redisUrl])))
  await engine.start()
  return { appid, engine }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms))
}

/** Polls until `check` holds (real time), failing with `what` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await sleep(25)
  }
  throw new Error(`timed out waiting until ${what}`)
}

export type TestRedis = RedisServer & { stopAll: () => Promise<void> }

/**
 * A simulator and a redis-server for a suite: started before its tests, stopped after them (after
 * the suite's own afterAll hooks, which run first).
 */
export function withSimAndRedis(ready: (env: { sim: Simulator; redis: TestRedis }) => void): void {
  let env: { sim: Simulator; redis: TestRedis } | undefined
  beforeAll(async () => {
    const [redis, sim] = await Promise.all([startRedis(), startSimulator()])
    env = { redis, sim }
    ready(env)
  })
  afterAll(async () => {
    await env?.sim.close()
    await env?.redis.stopAll()
  })
}

/**
 * Registers an app whose tokens live `lifeSeconds` at the simulator, with WeChat's overlap (and
 * stable renew window) at half that unless `overlapSeconds` says otherwise (whole seconds, as the
 * simulator takes it), and returns engine options on one Redis with the same overlap: the
 * simulator's overlap and the engine's must agree for the timing to mean anything. The refresh
 * lead is the overlap unless `leadSeconds` says otherwise.
 *
 * A test of guarantee 3 for classic tokens needs lead > overlap, as in production (600 s vs
 * 300 s): with lead = overlap a planned refresh plus WeChat's overlap ends exactly at WeChat's
 * expiry, so serving a token until its expiry (ignoring the planned rotation) looks just as safe.
 */
export async function shortLivedApp(
  sim: Simulator,
  redisUrl: string,
  opts: {
    lifeSeconds: number
    kind?: TokenKind
    overlapSeconds?: number
    leadSeconds?: number
    tuning?: Partial<EngineTuning>
  }
): Promise<{ appid: string; opts: EngineOptions }> {
  const appid = newAppid()
  const overlap = opts.overlapSeconds ?? opts.lifeSeconds / 2
  await sim.admin.registerApp({
    appid,
    secret: SECRET,
    tokenExpiresIn: opts.lifeSeconds,
    tokenOverlapSeconds: overlap,
  })
  const engineApp = app(appid, {
    tokenKind: opts.kind ?? 'classic',
    refreshLeadSeconds: opts.leadSeconds ?? overlap,
  })
  return {
    appid,
    opts: options(sim, [engineApp], redisStore([redisUrl]), {
      tuning: { wechatOverlapSeconds: overlap, ...opts.tuning },
    }),
  }
}

/**
 * Asks every engine for the token every 50 ms for `ms`, recording what each reader was told: what
 * heldRetired then checks against WeChat.
 */
export async function readFor(
  engines: readonly TokenEngine[],
  appid: string,
  ms: number
): Promise<Read[]> {
  const reads: Read[] = []
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    for (const engine of engines) {
      const at = Date.now()
      const served = await engine.getToken(appid)
      reads.push({ at, token: served.accessToken, expiresAt: served.expiresAt })
    }
    await sleep(50)
  }
  return reads
}

/** One answer a reader got: when it asked, and until when it was told it may use the token. */
export interface Read {
  at: number
  token: string
  expiresAt: number
}

/**
 * The reads whose token WeChat (the simulator) retires or expires before the reader was told it
 * may stop using it: what a client honouring expires_in would hold retired. Empty is the goal.
 */
export async function heldRetired(
  sim: Simulator,
  appid: string,
  kind: TokenKind,
  reads: readonly Read[]
): Promise<string[]> {
  const { all } = await sim.admin.tokens(appid, kind)
  const end = new Map(all.map((t) => [t.token, Math.min(t.expiresAt, t.retiredAt ?? Infinity)]))
  return reads.flatMap((r) => {
    const dies = end.get(r.token)
    if (dies === undefined) return [`a token the simulator never issued was served at ${r.at}`]
    return r.expiresAt > dies
      ? [
          `read at ${r.at}: told until ${r.expiresAt}, WeChat stops it at ${dies} (${r.expiresAt - dies} ms late)`,
        ]
      : []
  })
}
