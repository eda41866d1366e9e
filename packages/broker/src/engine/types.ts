// The token engine's public contract. The HTTP service (src/http) only calls this; the engine knows
// nothing of inbound HTTP. Times are epoch milliseconds unless a name says seconds.

export type TokenKind = 'classic' | 'stable'

export interface AppConfig {
  appid: string
  secret: string
  tokenKind: TokenKind
  /** Replace the token this long before WeChat's expiry (default 600). */
  refreshLeadSeconds: number
  /** Upstream token calls allowed per Asia/Shanghai day (default 2000). */
  dailyQuota: number
  /** Warn when this share of the daily quota is used (default 0.8). */
  quotaWarnRatio: number
  /** Minimum spacing of report-driven refreshes (default 30). */
  invalidateCooldownSeconds: number
  /**
   * Upstream calls of `dailyQuota` that only scheduled refreshes and cold starts may use: reports
   * and admin refreshes stop short of them (default 10% of dailyQuota).
   */
  scheduledReserve: number
  /** Report-driven refreshes allowed per Asia/Shanghai day for the app (default 100). */
  reportRefreshDailyLimit: number
  /** Report-driven refreshes one client may cause per day for the app (default 20). */
  clientReportRefreshDailyLimit: number
  /**
   * How often (seconds) one replica asks WeChat whether someone else refreshed this app's token
   * (`/cgi-bin/openapi/quota/get`, which also proves the current token still works); 0 disables
   * (default 60).
   */
  foreignCheckSeconds: number
}

/** A token as handed to a reader. */
export interface ServedToken {
  appid: string
  kind: TokenKind
  accessToken: string
  generation: number
  /** Whole seconds a caller may keep using the token: accounts for the planned rotation and WeChat's overlap. */
  expiresIn: number
  /** `expiresIn` as an instant. */
  expiresAt: number
}

/**
 * `cooldown`: a refresh ran less than the cooldown ago (or a stable force_refresh is too soon);
 * `limited`: a daily bound on report-driven refreshes (app, client, or the quota share kept for
 * scheduled refreshes) is reached. Either way the caller gets the current token.
 */
export type InvalidateOutcome = 'refreshed' | 'stale_report' | 'cooldown' | 'limited'

export interface InvalidateResult {
  refreshed: boolean
  reason: InvalidateOutcome
  token: ServedToken
}

/**
 * Why a refresh ran: `recovery` heals after a refresh that may have made WeChat issue a token no
 * replica recorded (a crash or timeout mid-refresh); `foreign` after WeChat's count showed a
 * refresh the broker did not make, or refused the current token.
 */
export type RefreshReason =
  'cold_start' | 'scheduled' | 'invalidated' | 'admin' | 'recovery' | 'foreign'
export type RefreshResult =
  | 'success'
  | 'wechat_error'
  | 'network_error'
  | 'quota_exhausted'
  | 'lock_contended'
  | 'lock_lost'
  | 'store_error'

export interface WeChatErrorInfo {
  errcode: number
  errmsg: string
  rid?: string | undefined
}

export type AppState = 'cold' | 'ok' | 'failing' | 'quota_exhausted'

/**
 * Which guard refused: the broker's daily count, WeChat's own daily quota (45009 on a normal
 * call), the share kept for scheduled refreshes, the stable force_refresh limit of the day, or a
 * daily bound on report-driven refreshes (per app, per client).
 */
export type QuotaLimit =
  | 'daily_quota'
  | 'wechat_daily_quota'
  | 'scheduled_reserve'
  | 'force_refresh_daily'
  | 'report_daily'
  | 'client_report_daily'

/** Whether WeChat accepts this replica's secret, as checked at start without a token call. */
export type SecretCheck = 'unchecked' | 'ok' | 'rejected'

export interface AppStatus {
  appid: string
  kind: TokenKind
  state: AppState
  generation: number | null
  /** When the current token was obtained from WeChat. */
  obtainedAt: number | null
  /** Safe remaining use of the current token in seconds (as served), null when none. */
  expiresIn: number | null
  /** When WeChat itself expires the current token. */
  wechatExpiresAt: number | null
  /**
   * How long before WeChat's expiry the current token is due for replacement: the configured lead
   * for classic tokens (at most half their life), 80% of WeChat's overlap window for stable ones.
   */
  refreshLeadSeconds: number
  lastRefresh: { at: number; reason: RefreshReason } | null
  lastError: (WeChatErrorInfo & { at: number }) | null
  /** When a failing app will next try WeChat again. */
  nextAttemptAt: number | null
  quota: {
    /** The token API whose upstream calls `used` counts (/cgi-bin/token, /cgi-bin/stable_token). */
    api: string
    used: number
    limit: number
    /** Share of `limit` from which `warn` holds (the app's quotaWarnRatio). */
    warnRatio: number
    warn: boolean
    /** Why upstream calls stopped for today (state quota_exhausted), else null. */
    exhausted: 'daily_quota' | 'wechat_daily_quota' | null
    /** Calls of `limit` kept for scheduled refreshes and cold starts. */
    scheduledReserve: number
    /** Report-driven refreshes today (all clients), the app's daily bound and each client's. */
    reports: { used: number; limit: number; clientLimit: number }
    /** Stable tokens: force_refresh calls today and the daily limit; null for classic. */
    forceRefresh: { used: number; limit: number } | null
    /** The figure WeChat reported through /cgi-bin/openapi/quota/get, when reconciled. */
    wechat: { used: number; limit: number; at: number } | null
  }
  /** This replica's secret, as WeChat judged it at start (see SecretCheck). */
  secret: SecretCheck
  /** The last refresh by someone else that the foreign-refresh check detected. */
  lastForeignRefresh: { at: number; evidence: ForeignEvidence } | null
}

/** How a foreign refresh showed: WeChat counted token calls the broker did not make, or refused the token. */
export type ForeignEvidence = 'count_drift' | 'token_rejected'

/**
 * One way this replica is not fully working (design §3.7). `/readyz`, the `wxbroker_degraded`
 * gauge and the status page all show the list `readiness()` builds, so they cannot disagree.
 */
export interface Degradation {
  /**
   * Stable and machine-readable: `not_started` or `store_unreachable` for the replica, and
   * `<code>:<appid>` for one app (`no_token`, `app_failing`, `quota_warn`, `quota_exhausted`). New
   * reasons may be added; existing ones keep their spelling.
   */
  reason: string
  /** The same for people; never carries a secret or a token. */
  message: string
  /** The replica cannot serve some app: it is not ready. */
  blocking: boolean
}

/** WeChat's verdict on a token: `unknown` when WeChat could not be asked. */
export type TokenCheck = 'valid' | 'invalid' | 'unknown'

export interface Readiness {
  /** Can serve a valid token for every app now, whether or not the store is reachable. */
  ready: boolean
  storeUp: boolean
  /** Why it is not ready, for people: the blocking degradations' messages (empty when ready). */
  reasons: string[]
  /** Everything not fully working, blocking or not: replica-wide first, then per app in order. */
  degradations: Degradation[]
}

export interface Code2SessionResult {
  openid: string
  session_key: string
  unionid?: string
}

/** Events the service's metrics and logs subscribe to. None carries a secret or a token. */
export interface EngineEvents {
  refresh: {
    appid: string
    kind: TokenKind
    reason: RefreshReason
    result: RefreshResult
    durationSeconds: number
    generation?: number
    error?: WeChatErrorInfo
  }
  /** errcode is '0' on success, the WeChat errcode, 'http_<status>', 'network' or 'timeout'. */
  wechatRequest: { endpoint: string; errcode: string; durationSeconds: number }
  /** `client`: the reporting client's name, when the service passed it. */
  invalidation: { appid: string; result: InvalidateOutcome; errcode?: number; client?: string }
  lockAcquire: { result: 'acquired' | 'contended' | 'error' }
  quota: {
    appid: string
    api: string
    used: number
    limit: number
    level: 'ok' | 'warn' | 'exhausted'
  }
  store: { up: boolean }
  foreignRefresh: { appid: string; kind: TokenKind; evidence: ForeignEvidence }
}

export type EngineEventName = keyof EngineEvents

export interface TokenEngine {
  readonly appids: readonly string[]
  start(): Promise<void>
  /** Stops timers, releases locks, closes store connections. */
  stop(): Promise<void>
  /** Never waits on a scheduled refresh; on a cold start waits (bounded) for the one upstream call. */
  getToken(
    appid: string,
    opts?: {
      /**
       * Answer with at least this many seconds of safe use when the refresh is due (it is then run
       * at once, without jitter): stable-shaped answers of the gateway need 301.
       */
      minExpiresIn?: number
    }
  ): Promise<ServedToken>
  /**
   * The app whose token this is: the one served now (`current`), or the one before it while WeChat
   * still accepts it. Undefined for a token this broker never served.
   */
  tokenOwner(token: string): { appid: string; current: boolean } | undefined
  /** Whether WeChat accepts `token` now (one cheap call, remembered for a while per token). */
  checkToken(appid: string, token: string): Promise<TokenCheck>
  /**
   * What getToken would answer at once, synchronously: the cached token if it is still safe to
   * serve, else undefined (unknown app, cold start, near expiry). For the HTTP hot path.
   */
  peekToken(appid: string): ServedToken | undefined
  /** Compare-and-refresh: refreshes only if `accessToken` is still current. */
  invalidate(
    appid: string,
    accessToken: string,
    errcode?: number,
    /** The reporting client's name, for its daily bound on report-driven refreshes. */
    reporter?: string
  ): Promise<InvalidateResult>
  /** Forced refresh (admin), still subject to quota and cooldown guards. */
  refresh(appid: string): Promise<ServedToken>
  code2Session(appid: string, jsCode: string): Promise<Code2SessionResult>
  status(): AppStatus[]
  readiness(): Readiness
  on<K extends EngineEventName>(event: K, listener: (e: EngineEvents[K]) => void): this
  off<K extends EngineEventName>(event: K, listener: (e: EngineEvents[K]) => void): this
}

export type EngineErrorCode =
  | 'unknown_app'
  | 'quota_exhausted'
  | 'cooldown'
  | 'token_unavailable'
  | 'wechat_error'
  | 'store_unavailable'

/** The engine's one error type; the service maps `code` to an HTTP status. Never carries a secret. */
export class EngineError extends Error {
  override readonly name = 'EngineError'
  readonly code: EngineErrorCode
  readonly retryAfterSeconds: number | undefined
  readonly wechat: WeChatErrorInfo | undefined
  /** With quota_exhausted: which limit was hit. */
  readonly limit: QuotaLimit | undefined

  constructor(
    code: EngineErrorCode,
    message: string,
    opts: {
      retryAfterSeconds?: number
      wechat?: WeChatErrorInfo
      limit?: QuotaLimit
      cause?: unknown
    } = {}
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause })
    this.code = code
    this.retryAfterSeconds = opts.retryAfterSeconds
    this.wechat = opts.wechat
    this.limit = opts.limit
  }
}

/** Minimal structured logger (pino-compatible). */
export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

/** Time source; tests inject a virtual one. */
export interface Clock {
  now(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
}

export type StoreOptions =
  | { kind: 'memory' }
  /** One URL, or several independent nodes that form a redlock quorum (the first holds the data). */
  | { kind: 'redis'; nodes: string[]; keyPrefix: string }

export interface WeChatOptions {
  baseUrl: string
  fallbackBaseUrls: string[]
  /** Per upstream request (default 5000). */
  timeoutMs: number
  /**
   * At start, ask WeChat whether it accepts each app's secret with a normal-mode stable_token
   * call, which retires no token and spends no /cgi-bin/token quota (default false here; the
   * daemon's config turns it on by default: `wechat.verifySecretOnStart`).
   */
  verifySecretOnStart?: boolean
}

/** What `createEngine` (src/engine/index.ts) takes. */
export interface EngineOptions {
  apps: AppConfig[]
  store: StoreOptions
  wechat: WeChatOptions
  /** Names this replica in token records and locks (default: host name + pid + random). */
  instanceId?: string
  clock?: Clock
  logger?: Logger
  /** How long a reader waits for the first token on a cold start (default 10000). */
  coldStartTimeoutMs?: number
  /** Timings and limits; the defaults suit production, tests shorten them. */
  tuning?: Partial<EngineTuning>
}

export interface EngineTuning {
  /** How long WeChat keeps a replaced token valid (classic) / pre-rotates a stable one (default 300). */
  wechatOverlapSeconds: number
  /** Refresh lock lease; extended while a refresh runs (default 10000). */
  lockTtlMs: number
  /** How often a replica re-reads the store to catch up on missed announcements (default 5000). */
  syncIntervalMs: number
  /** Retries of transient WeChat failures within one refresh. */
  retry: { attempts: number; baseDelayMs: number; maxDelayMs: number }
  /** Wait after a failure retrying cannot fix, doubled per consecutive failure (default 30000). */
  failureBackoffMs: number
  /** Wait after transient failures outlasted the retries, doubled likewise (default 5000). */
  transientBackoffMs: number
  /** Ceiling of both back-offs (default 600000). */
  maxBackoffMs: number
  /** Upper bound of the random delay added to a scheduled refresh (default 30). */
  maxJitterSeconds: number
  /** Stable-token force_refresh guard (WeChat: 20 a day, 30 s apart). */
  forceRefreshDailyLimit: number
  forceRefreshMinIntervalSeconds: number
  /** Ask WeChat for its own quota figure after each refresh (default true). */
  reconcileQuota: boolean
}
