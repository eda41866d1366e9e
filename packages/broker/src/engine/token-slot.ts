import { DailyCounter } from './daily-counter.js'
import { checkForeignRefresh, type ForeignCheckDeps } from './foreign-check.js'
import { QuotaExhaustedError, QuotaGuard, type QuotaPurpose } from './quota-guard.js'
import {
  intentDeadline,
  openIntent,
  recordIntent,
  withdrawIntent,
  type RefreshIntent,
} from './refresh-intent.js'
import { ReportBudget } from './report-budget.js'
import { publishHealth, readHealth, SlotOutcome } from './slot-health.js'
import { storeKeys } from './store/keys.js'
import { StoreUnavailableError, type Lease, type Store, type TokenRecord } from './store/types.js'
import {
  EngineError,
  type AppConfig,
  type AppStatus,
  type Clock,
  type EngineEvents,
  type EngineTuning,
  type InvalidateOutcome,
  type InvalidateResult,
  type Logger,
  type QuotaLimit,
  type RefreshReason,
  type RefreshResult,
  type SecretCheck,
  type ServedToken,
  type TokenCheck,
  type TokenKind,
  type WeChatErrorInfo,
} from './types.js'
import {
  effectiveLeadSeconds,
  failureBackoffMs,
  jitterBoundMs,
  plannedRefreshAt,
  retryDelayMs,
  safeUntil,
  type TimingRules,
} from './timing.js'
import { TOKEN_API, type TokenAnswer, type WeChatApi } from './wechat-api.js'
import {
  WeChatError,
  WeChatTransportError,
  isTokenRejection,
  refusesThisReplica,
} from './wechat-errors.js'

export interface SlotDeps {
  app: AppConfig
  store: Store
  wechat: WeChatApi
  clock: Clock
  logger: Logger
  tuning: EngineTuning
  instanceId: string
  coldStartTimeoutMs: number
  verifySecretOnStart: boolean
  emit: <K extends keyof EngineEvents>(event: K, payload: EngineEvents[K]) => void
}

type Outcome =
  | { type: 'refreshed'; record: TokenRecord }
  | { type: 'current' }
  | { type: 'contended' }
  | { type: 'cooldown'; retryAfterMs: number }
  | { type: 'limited'; limit: QuotaLimit; retryAfterMs: number }

interface RefreshRequest {
  reason: RefreshReason
  /** A scheduled refresh asked for before its jittered time (getToken's minExpiresIn). */
  early?: boolean
  /** For reports and foreign refreshes: refresh only while this token is current. */
  expectToken?: string
  /** The client that reported, for its daily bound. */
  reporter?: string | undefined
}

/** Refreshes someone asked for (a report, an admin): guarded, and they never make an app failing. */
function onDemand(reason: RefreshReason): boolean {
  return reason === 'invalidated' || reason === 'admin'
}

const MIN_SERVE_MS = 1000
/** How long WeChat's verdict on a token is reused. */
const CHECK_TTL_MS = 30_000
const POLL_MS = 200

/**
 * One appid and token kind: its current token, its refresh schedule, and the rules for replacing
 * it (one refresher under the lock, fenced writes, compare-and-refresh, quota and back-off,
 * recovery after refreshes nobody recorded).
 */
export class TokenSlot {
  readonly slot: string
  readonly kind: TokenKind
  readonly quota: QuotaGuard
  private readonly rules: TimingRules
  private readonly reports: ReportBudget
  /** Stable force_refresh calls today. */
  private readonly forced: DailyCounter
  private record: TokenRecord | null = null
  private previous: { token: string; until: number } | null = null
  /** WeChat's recent verdicts on presented tokens (checkToken). */
  private readonly checks = new Map<string, { at: number; verdict: Promise<TokenCheck> }>()
  private jitterMs = 0
  private timer: unknown = undefined
  private foreignTimer: unknown = undefined
  private inflight: Promise<Outcome> | null = null
  private cold: Promise<ServedToken> | null = null
  private readonly pendingReports = new Map<string, Promise<InvalidateResult>>()
  private readonly waiters = new Set<() => void>()
  /** The app's state, last refresh and error, and back-off (see slot-health.ts). */
  private readonly outcome = new SlotOutcome()
  /**
   * The latest instant WeChat may still accept the current record, when something retired it
   * early: a refresh nobody recorded, or one by someone else. Cleared by a newer record.
   */
  private retiresBy: number | null = null
  /** Like retiresBy, from a refresh intent (its own, so that a withdrawn intent lifts it). */
  private intentCap: number | null = null
  private wechatQuota: AppStatus['quota']['wechat'] = null
  private secret: SecretCheck = 'unchecked'
  private stopped = false
  /** The intent the refresh in flight recorded (see refresh-intent.ts), or null. */
  private intent: RefreshIntent | null = null

  constructor(private readonly deps: SlotDeps) {
    const { app, store, clock } = deps
    this.kind = app.tokenKind
    this.slot = `${app.appid}:${app.tokenKind}`
    this.rules = {
      kind: app.tokenKind,
      leadMs: app.refreshLeadSeconds * 1000,
      overlapMs: deps.tuning.wechatOverlapSeconds * 1000,
      maxJitterMs: deps.tuning.maxJitterSeconds * 1000,
    }
    const api = TOKEN_API[app.tokenKind]
    this.quota = new QuotaGuard(
      store,
      clock,
      app.appid,
      api,
      app.dailyQuota,
      app.quotaWarnRatio,
      app.scheduledReserve,
      (e) => deps.emit('quota', e)
    )
    this.reports = new ReportBudget(
      store,
      clock,
      app.appid,
      app.reportRefreshDailyLimit,
      app.clientReportRefreshDailyLimit
    )
    this.forced = new DailyCounter(store, clock, (at) => storeKeys.forceCount(app.appid, at))
  }

  get appid(): string {
    return this.deps.app.appid
  }

  /** Starts the background work: the first token is fetched without waiting for a reader. */
  start(): void {
    // A replica that fetched the token itself has its secret proven; one that took the token from
    // the store asks WeChat (see verifySecret).
    void this.obtain()
      .catch(() => undefined)
      .then(() => {
        if (this.deps.verifySecretOnStart && this.secret === 'unchecked') void this.verifySecret()
      })
    this.scheduleForeignCheck()
  }

  /** Stops scheduling; resolves once a refresh in flight has finished (its write lands). */
  async stop(): Promise<void> {
    this.stopped = true
    this.deps.clock.clearTimeout(this.timer)
    this.deps.clock.clearTimeout(this.foreignTimer)
    for (const wake of this.waiters) wake()
    await this.inflight?.catch(() => undefined)
  }

  /** Takes a record from the store or an announcement if it is newer than ours. */
  adopt(record: TokenRecord | null): boolean {
    if (!record || (this.record && record.generation <= this.record.generation)) return false
    if (this.record) {
      // WeChat keeps a replaced classic token `overlap` longer (a stable one to its own expiry
      // when renewed in normal mode); readers may still present it meanwhile.
      const until = Math.min(this.record.wechatExpiresAt, this.deps.clock.now() + this.overlapMs())
      this.previous = { token: this.record.token, until }
    }
    this.record = record
    this.jitterMs = Math.random() * jitterBoundMs(this.rules)
    this.outcome.tokenAdopted()
    this.retiresBy = null
    this.intentCap = null
    this.schedule()
    for (const wake of this.waiters) wake()
    return true
  }

  /**
   * Another replica (or this one) is about to ask WeChat for a token that retires ours `overlap`
   * from now: serve ours no longer than that. The refresher replaces it; if it dies, whoever holds
   * the lock next does (see runRefresh).
   */
  onIntent(intent: RefreshIntent): void {
    if (!this.record || intent.generation !== this.record.generation) return
    const deadline = intentDeadline(intent, this.overlapMs())
    if (intent.withdrawn) {
      if (this.intentCap === deadline) this.intentCap = null
    } else {
      this.intentCap = Math.min(this.intentCap ?? Infinity, deadline)
    }
  }

  /** The current token with its safe remaining use, or null when there is none worth serving. */
  serve(): ServedToken | null {
    const record = this.record
    if (!record) return null
    const until = Math.min(
      safeUntil(this.rules, record),
      this.retiresBy ?? Infinity,
      this.intentCap ?? Infinity
    )
    const remaining = until - this.deps.clock.now()
    if (remaining < MIN_SERVE_MS) return null
    return {
      appid: this.appid,
      kind: this.kind,
      accessToken: record.token,
      generation: record.generation,
      expiresIn: Math.floor(remaining / 1000),
      expiresAt: until,
    }
  }

  /**
   * The token to serve; with `minExpiresIn`, a token that has less left is replaced first when its
   * refresh is due (or, for a stable token, when WeChat would already hand out the next one), at
   * once rather than at its jittered time. Otherwise, or if WeChat hands back the same token, the
   * current one as it is.
   */
  async getToken(minExpiresIn?: number): Promise<ServedToken> {
    const served = this.serve()
    if (!served) return this.obtain()
    if (minExpiresIn === undefined || served.expiresIn >= minExpiresIn || !this.renewable())
      return served
    const outcome = await this.refresh({ reason: 'scheduled', early: true }).catch(() => undefined)
    if (outcome?.type === 'contended') {
      await this.waitForNewer(this.deps.clock.now() + this.deps.coldStartTimeoutMs)
    }
    return this.serve() ?? served
  }

  /**
   * Whether `token` is this slot's: the current record's, or the one before it while WeChat may
   * still accept it (a classic token for `overlap` after its replacement, at most to its expiry).
   */
  knows(token: string): 'current' | 'previous' | undefined {
    if (this.record?.token === token) return 'current'
    const previous = this.previous
    if (previous?.token === token && this.deps.clock.now() < previous.until) return 'previous'
    return undefined
  }

  /** WeChat's verdict on `token`, asked once per token per CHECK_TTL_MS (see types.ts). */
  checkToken(token: string): Promise<TokenCheck> {
    const now = this.deps.clock.now()
    for (const [t, c] of this.checks) if (now - c.at > CHECK_TTL_MS) this.checks.delete(t)
    const known = this.checks.get(token)
    if (known) return known.verdict
    const verdict = this.deps.wechat.apiQuota(token, this.quota.api).then(
      (): TokenCheck => 'valid',
      (error: unknown): TokenCheck =>
        error instanceof WeChatError && isTokenRejection(error.errcode) ? 'invalid' : 'unknown'
    )
    this.checks.set(token, { at: now, verdict })
    return verdict
  }

  /** Compare-and-refresh; concurrent reports of one token share one answer. */
  invalidate(token: string, errcode?: number, reporter?: string): Promise<InvalidateResult> {
    const pending = this.pendingReports.get(token)
    if (pending) return pending
    const report = this.handleReport(token, errcode, reporter).finally(() =>
      this.pendingReports.delete(token)
    )
    this.pendingReports.set(token, report)
    return report
  }

  /** A forced refresh (admin), still subject to the quota and the cooldown. */
  forceRefresh(): Promise<ServedToken> {
    const before = this.record?.generation ?? 0
    return this.untilSettled(
      { reason: 'admin' },
      (outcome) => {
        if (outcome?.type === 'cooldown') {
          throw new EngineError(
            'cooldown',
            `a refresh of ${this.appid} happened less than the cooldown ago`,
            { retryAfterSeconds: Math.ceil(outcome.retryAfterMs / 1000) }
          )
        }
        if (outcome?.type === 'limited') throw this.limitError(outcome.limit, outcome.retryAfterMs)
        const served = outcome ? this.serve() : null
        return served && served.generation > before ? served : undefined
      },
      () => this.unavailable()
    )
  }

  /**
   * Catches up with the store: a missed announcement, a store that lost its data, today's
   * counters, another replica's refresh outcome, and a refresh that may have issued a token no
   * replica recorded.
   */
  async sync(): Promise<void> {
    const { store } = this.deps
    if (!store.isUp()) return
    const stored = await store.readToken(this.slot)
    this.adopt(stored)
    if (this.record && (!stored || stored.generation < this.record.generation) && this.serve()) {
      await store.seedToken(this.slot, this.record)
    }
    await this.quota.sync()
    await this.reports.sync()
    if (this.kind === 'stable') await this.forced.read()
    const figure = await store.getValue(storeKeys.wechatQuota(this.appid, this.quota.api))
    if (figure) this.wechatQuota = JSON.parse(figure) as AppStatus['quota']['wechat']
    const health = await readHealth(store, this.slot)
    if (health) this.outcome.adopt(health)
    if (this.record && this.inflight === null) {
      const intent = await openIntent(store, this.slot, this.record.generation)
      if (intent) {
        this.onIntent(intent)
        // A refresher holds the lock while it works: once the lock could have lapsed, try to take
        // over (under the lock, runRefresh finds the intent and recovers).
        const now = this.deps.clock.now()
        if (now - intent.at > this.deps.tuning.lockTtlMs) this.schedule(now)
      }
    }
  }

  status(): AppStatus {
    const served = this.serve()
    return {
      appid: this.appid,
      kind: this.kind,
      state: this.outcome.state,
      generation: this.record?.generation ?? null,
      obtainedAt: this.record?.obtainedAt ?? null,
      expiresIn: served?.expiresIn ?? null,
      wechatExpiresAt: this.record?.wechatExpiresAt ?? null,
      refreshLeadSeconds: effectiveLeadSeconds(this.rules, this.record),
      lastRefresh: this.outcome.lastRefresh,
      lastError: this.outcome.lastError,
      nextAttemptAt: this.outcome.nextAttemptAt,
      quota: {
        api: this.quota.api,
        used: this.quota.used(),
        limit: this.quota.limit,
        warnRatio: this.deps.app.quotaWarnRatio,
        warn: this.quota.warn(),
        exhausted: this.outcome.state === 'quota_exhausted' ? this.outcome.exhaustedBy : null,
        scheduledReserve: this.quota.scheduledReserve,
        reports: {
          used: this.reports.used(),
          limit: this.reports.appLimit,
          clientLimit: this.reports.clientLimit,
        },
        forceRefresh:
          this.kind === 'stable'
            ? { used: this.forced.cached(), limit: this.deps.tuning.forceRefreshDailyLimit }
            : null,
        wechat: this.wechatQuota,
      },
      secret: this.secret,
      lastForeignRefresh: this.outcome.lastForeign,
    }
  }

  // --- schedule -------------------------------------------------------------------------------

  private overlapMs(): number {
    return this.rules.overlapMs
  }

  /** Whether the record must be replaced now: gone, due, or retired early by someone. */
  private refreshDue(): boolean {
    const record = this.record
    if (!record || !this.serve()) return true
    return this.retiresBy !== null || this.deps.clock.now() >= plannedRefreshAt(this.rules, record)
  }

  /**
   * Whether a replacement may be fetched now without retiring a token before the expires_in it was
   * served with: the refresh is due, or (stable) WeChat's own renew window has begun.
   */
  private renewable(): boolean {
    const record = this.record
    if (!record || this.refreshDue()) return true
    return (
      this.kind === 'stable' && record.wechatExpiresAt - this.deps.clock.now() <= this.overlapMs()
    )
  }

  /** The store is reachable again: a refresh that is due (or a missing token) need not wait. */
  storeRecovered(): void {
    if (this.stopped || this.inflight !== null) return
    if (
      this.refreshDue() &&
      (this.outcome.retryAt === null || this.outcome.retryAt <= this.deps.clock.now())
    )
      this.schedule(this.deps.clock.now())
  }

  /** WeChat may retire the current record at `at`: serve it no longer than that and replace it now. */
  private noteRetirement(at: number): void {
    if (this.retiresBy !== null && this.retiresBy <= at) return
    this.retiresBy = at
    this.schedule()
  }

  private schedule(at?: number): void {
    if (this.stopped) return
    this.deps.clock.clearTimeout(this.timer)
    const now = this.deps.clock.now()
    const planned = this.record
      ? this.retiresBy !== null
        ? now
        : plannedRefreshAt(this.rules, this.record) + this.jitterMs
      : now
    const due =
      at ??
      (this.outcome.retryAt !== null && this.outcome.retryAt > now ? this.outcome.retryAt : planned)
    this.timer = this.deps.clock.setTimeout(() => this.onTimer(), Math.max(0, due - now))
  }

  private onTimer(): void {
    if (this.stopped) return
    this.outcome.retryAt = null
    const reason: RefreshReason = this.serve() ? 'scheduled' : 'cold_start'
    this.refresh({ reason })
      .then((outcome) => {
        if (outcome.type === 'refreshed') return // adopting the record rescheduled
        // Another replica holds the lock, or WeChat handed back the same stable token: look again
        // soon while the refresh is due; otherwise wait for the planned time.
        if (outcome.type === 'contended' || this.refreshDue())
          this.schedule(this.deps.clock.now() + retryDelayMs(this.rules))
        else this.schedule()
      })
      .catch(() => undefined) // recorded in refresh(); the failure back-off has rescheduled
  }

  // --- refresh --------------------------------------------------------------------------------

  /** One refresh at a time per process; callers arriving meanwhile share its outcome. */
  private refresh(request: RefreshRequest): Promise<Outcome> {
    this.inflight ??= this.runRefresh(request).finally(() => {
      this.inflight = null
    })
    return this.inflight
  }

  private async runRefresh(asked: RefreshRequest): Promise<Outcome> {
    const { store, emit } = this.deps
    const started = performance.now()
    this.intent = null
    let request = asked
    let lease: Lease | null
    try {
      lease = await store.acquire(this.slot, this.deps.tuning.lockTtlMs)
    } catch (error) {
      emit('lockAcquire', { result: 'error' })
      throw this.failed(request, error, started)
    }
    if (!lease) {
      emit('lockAcquire', { result: 'contended' })
      return { type: 'contended' }
    }
    emit('lockAcquire', { result: 'acquired' })
    const keeper = this.keepAlive(lease)
    try {
      // Double-check under the lock: another replica may have refreshed already.
      this.adopt(await store.readToken(this.slot))
      // A refresh that asked WeChat for a token and never wrote one (its replica crashed, or its
      // call timed out) may have made WeChat issue a token nobody knows: the one we hold then dies
      // `overlap` after it. Holding the lock, we know that refresh is over: replace ours now.
      const orphan = this.record ? await openIntent(store, this.slot, this.record.generation) : null
      if (orphan) {
        this.noteRetirement(intentDeadline(orphan, this.overlapMs()))
        request = { reason: 'recovery' }
        this.deps.logger.warn(
          { appid: this.appid, kind: this.kind, since: new Date(orphan.at).toISOString() },
          'a refresh may have left a token no replica recorded; replacing the current one'
        )
      } else if (!this.needsRefresh(request)) {
        return { type: 'current' }
      }
      if (onDemand(request.reason)) {
        const refused = await this.onDemandGuards(request)
        if (refused) return refused
      }
      // WeChat starts the token's life when it handles the request, somewhere between sending it
      // and receiving the answer: counting from the send never overestimates the life left.
      const requestedAt = this.deps.clock.now()
      const answer = await this.fetchToken(request, requestedAt)
      if (answer.accessToken === this.record?.token) return { type: 'current' }
      const now = this.deps.clock.now()
      const record: TokenRecord = {
        token: answer.accessToken,
        generation: (this.record?.generation ?? 0) + 1,
        obtainedAt: requestedAt,
        wechatExpiresAt: requestedAt + answer.expiresIn * 1000,
        fetchedBy: this.deps.instanceId,
      }
      const written = keeper.lost ? 'not_owner' : await store.writeToken(this.slot, record, lease)
      if (written !== 'ok') {
        // Fenced: our lease ran out and someone else may have refreshed. Their token stands.
        this.deps.logger.warn(
          { appid: this.appid, kind: this.kind, written },
          'refresh lost its lock; write refused'
        )
        this.emitRefresh(request.reason, 'lock_lost', started)
        this.adopt(await store.readToken(this.slot))
        return { type: 'current' }
      }
      this.adopt(record)
      this.outcome.state = 'ok'
      this.outcome.exhaustedBy = null
      this.secret = 'ok'
      this.outcome.lastRefresh = { at: now, reason: request.reason }
      this.publish(now)
      this.emitRefresh(request.reason, 'success', started, record.generation)
      this.deps.logger.info(
        {
          appid: this.appid,
          kind: this.kind,
          reason: request.reason,
          generation: record.generation,
        },
        'token refreshed'
      )
      this.reconcileQuota(record.token)
      return { type: 'refreshed', record }
    } catch (error) {
      throw this.failed(request, error, started)
    } finally {
      keeper.stop()
      await lease.release()
    }
  }

  private needsRefresh(request: RefreshRequest): boolean {
    const record = this.record
    if (!record || !this.serve()) return true
    switch (request.reason) {
      case 'cold_start':
        return false
      case 'scheduled':
        return this.refreshDue() || (request.early === true && this.renewable())
      case 'recovery':
        return this.refreshDue()
      case 'invalidated':
      case 'foreign':
        return record.token === request.expectToken
      case 'admin':
        return true
    }
  }

  /** Reports and admin refreshes: the cooldown, then the daily bounds on report-driven refreshes. */
  private async onDemandGuards(request: RefreshRequest): Promise<Outcome | null> {
    const retryAfterMs = await this.cooldownLeft()
    if (retryAfterMs > 0) return { type: 'cooldown', retryAfterMs }
    if (request.reason !== 'invalidated') return null
    const limit = await this.reports.exceeded(request.reporter)
    if (limit) {
      this.deps.logger.warn(
        { appid: this.appid, kind: this.kind, limit, client: request.reporter ?? null },
        'report-driven refreshes reached their daily bound; serving the current token'
      )
      return {
        type: 'limited',
        limit,
        retryAfterMs: this.reports.resetAt() - this.deps.clock.now(),
      }
    }
    await this.reports.spend(request.reporter)
    return null
  }

  private async fetchToken(request: RefreshRequest, requestedAt: number): Promise<TokenAnswer> {
    const { wechat, app } = this.deps
    // Reports and admin refreshes stop short of the quota share kept for scheduled refreshes.
    const purpose: QuotaPurpose = onDemand(request.reason) ? 'on_demand' : 'scheduled'
    const reserve = (): Promise<void> => this.quota.reserve(purpose)
    // A call that retires the current token is noted first, once the quota allows it.
    const reserveRetiring = async (): Promise<void> => {
      await reserve()
      if (!this.intent) await this.recordIntent(requestedAt)
    }
    if (this.kind === 'classic') return wechat.classicToken(app.appid, app.secret, reserveRetiring)
    if (request.reason === 'admin') return this.forceStable(reserveRetiring)
    const answer = await wechat.stableToken(app.appid, app.secret, false, reserve)
    // Normal mode is idempotent: if WeChat hands back the very token that failed, only a force helps.
    if (
      (request.reason === 'invalidated' || request.reason === 'foreign') &&
      answer.accessToken === request.expectToken
    )
      return this.forceStable(reserveRetiring)
    return answer
  }

  /** Before a call that makes WeChat retire the current token: see refresh-intent.ts. */
  private async recordIntent(at: number): Promise<void> {
    const intent: RefreshIntent = {
      at,
      generation: this.record?.generation ?? 0,
      by: this.deps.instanceId,
      // What this replica knows of an earlier end (a foreign refresh) travels with the intent.
      ...(this.retiresBy === null ? {} : { retiresBy: this.retiresBy }),
    }
    this.intent = intent
    await recordIntent(this.deps.store, this.slot, intent)
  }

  /** force_refresh, within WeChat's limits: a few a day, some seconds apart. */
  private async forceStable(reserve: () => Promise<void>): Promise<TokenAnswer> {
    const { store, clock, tuning, app } = this.deps
    const now = clock.now()
    const lastKey = storeKeys.forceLast(app.appid)
    if ((await this.forced.read()) >= tuning.forceRefreshDailyLimit) {
      throw this.limitError('force_refresh_daily', this.forced.resetAt() - now)
    }
    const last = Number((await store.getValue(lastKey)) ?? 0)
    const spacingMs = tuning.forceRefreshMinIntervalSeconds * 1000
    if (now - last < spacingMs) {
      throw new EngineError(
        'cooldown',
        `stable-token force_refresh for ${app.appid} is too soon after the last one`,
        {
          retryAfterSeconds: Math.ceil((last + spacingMs - now) / 1000),
        }
      )
    }
    await this.forced.increment()
    await store.setValue(lastKey, String(now), spacingMs)
    try {
      return await this.deps.wechat.stableToken(app.appid, app.secret, true, reserve)
    } catch (error) {
      // WeChat's own force_refresh limit (20 a day). Its count includes force calls this broker
      // did not make or has forgotten (a store that restarted empty): take WeChat's word for
      // today. Only forcing stops; normal-mode refreshes keep their schedule.
      if (error instanceof WeChatError && error.errcode === 45009) {
        if (this.intent) await withdrawIntent(store, this.slot, this.intent)
        await this.forced.raiseTo(tuning.forceRefreshDailyLimit)
        throw this.limitError('force_refresh_daily', this.forced.resetAt() - now, error.info)
      }
      throw error
    }
  }

  /** The 429 of a guard that holds until a limit resets. */
  private limitError(
    limit: QuotaLimit,
    retryAfterMs: number,
    wechat?: WeChatErrorInfo
  ): EngineError {
    const what: Record<QuotaLimit, string> = {
      daily_quota: `the daily token quota of ${this.appid} is used up`,
      wechat_daily_quota: `WeChat says the daily token quota of ${this.appid} is used up`,
      scheduled_reserve: `the share of ${this.appid}'s daily token quota open to reports and admin refreshes is used up; the rest is kept for scheduled refreshes`,
      force_refresh_daily: `the stable-token force_refresh limit of ${this.appid} is used up today; normal refreshes continue`,
      report_daily: `report-driven refreshes of ${this.appid} reached their daily bound`,
      client_report_daily: `this client's report-driven refreshes of ${this.appid} reached their daily bound`,
    }
    return new EngineError('quota_exhausted', what[limit], {
      retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)),
      limit,
      ...(wechat ? { wechat } : {}),
    })
  }

  private async cooldownLeft(): Promise<number> {
    const { store, clock } = this.deps
    const key = storeKeys.cooldown(this.slot)
    const cooldownMs = this.deps.app.invalidateCooldownSeconds * 1000
    const last = Number((await store.getValue(key)) ?? 0)
    const now = clock.now()
    if (last > 0 && now - last < cooldownMs) return last + cooldownMs - now
    if (cooldownMs > 0) await store.setValue(key, String(now), cooldownMs)
    return 0
  }

  /** Extends the lease every third of its life while a refresh runs, on the engine's clock. */
  private keepAlive(lease: Lease): { lost: boolean; stop(): void } {
    const { clock } = this.deps
    const ttl = this.deps.tuning.lockTtlMs
    let timer: unknown
    const keeper = {
      lost: false,
      stop: () => clock.clearTimeout(timer),
    }
    const extend = (): void => {
      timer = clock.setTimeout(() => {
        lease
          .extend(ttl)
          .then((ok) => {
            if (!ok) keeper.lost = true
          })
          .catch(() => (keeper.lost = true))
        extend()
      }, ttl / 3)
    }
    extend()
    return keeper
  }

  /** Records a failed refresh, sets the back-off, and returns the error readers should see. */
  private failed(request: RefreshRequest, error: unknown, started: number): EngineError {
    const { reason } = request
    const now = this.deps.clock.now()
    if (error instanceof EngineError) {
      // A guard refused (the stable force_refresh limits), before or after asking WeChat. Not a
      // failure of the app: its quota block says so (forceRefresh), lastError stays as it was.
      if (error.code === 'quota_exhausted') this.emitRefresh(reason, 'quota_exhausted', started)
      if (error.wechat) {
        this.deps.logger.warn(
          { appid: this.appid, kind: this.kind, limit: error.limit, errcode: error.wechat.errcode },
          'WeChat refused force_refresh: its daily limit is used up; normal refreshes continue'
        )
      }
      return error
    }
    if (error instanceof StoreUnavailableError) {
      this.emitRefresh(reason, 'store_error', started)
      // No refresh without the lock: keep serving from memory and try again shortly.
      this.schedule(now + retryDelayMs(this.rules))
      return new EngineError('store_unavailable', 'the token store is unreachable', {
        retryAfterSeconds: 1,
      })
    }
    if (error instanceof QuotaExhaustedError) {
      this.emitRefresh(reason, 'quota_exhausted', started)
      // The share kept for scheduled refreshes only stops reports and admin refreshes.
      if (error.limit === 'scheduled_reserve') {
        return this.limitError('scheduled_reserve', error.resetAt - now)
      }
      this.outcome.state = 'quota_exhausted'
      this.outcome.exhaustedBy = 'daily_quota'
      this.backOffUntil(error.resetAt)
      this.publish(now)
      this.deps.logger.error(
        { appid: this.appid, api: error.api },
        'daily token quota used up; no more upstream calls today'
      )
      return this.unavailable()
    }
    let info: WeChatErrorInfo
    let result: RefreshResult
    if (error instanceof WeChatError) {
      info = error.info
      result = 'wechat_error'
      // WeChat answered: no token was issued, nothing will be retired.
      if (this.intent)
        withdrawIntent(this.deps.store, this.slot, this.intent).catch(() => undefined)
      if (refusesThisReplica(error.errcode)) this.secret = 'rejected'
    } else {
      const label = error instanceof WeChatTransportError ? error.label : 'network'
      info = { errcode: -1, errmsg: `WeChat could not be reached (${label})` }
      result = 'network_error'
      // No answer to a call that retires the current token: WeChat may have issued a new one (and
      // will retire ours `overlap` after the request) or not. Serve ours no longer than that.
      if (this.intent) this.noteRetirement(intentDeadline(this.intent, this.overlapMs()))
    }
    this.outcome.lastError = { ...info, at: now }
    this.emitRefresh(reason, result, started, undefined, info)
    if (onDemand(reason) && this.serve()) {
      // A failed report or admin refresh while the token held is still good: say what happened,
      // keep the schedule, and leave the app's state alone (the token keeps being served).
      this.publish(now)
      this.deps.logger.warn(
        { appid: this.appid, kind: this.kind, reason, errcode: info.errcode, errmsg: info.errmsg },
        'requested refresh failed; the current token stays in service'
      )
      return new EngineError(
        'wechat_error',
        error instanceof WeChatError
          ? `WeChat refused the refresh of ${this.appid} (errcode ${info.errcode}); the current token stays in service`
          : `${info.errmsg} while refreshing ${this.appid}; the current token stays in service`,
        { wechat: info }
      )
    }
    this.outcome.failures++
    const { tuning } = this.deps
    let next: number
    if (error instanceof WeChatError && error.errcode === 45009) {
      next = this.quota.resetAt()
      this.outcome.state = 'quota_exhausted'
      this.outcome.exhaustedBy = 'wechat_daily_quota'
    } else {
      // WeChat's own errcodes (its -1 included) back off from failureBackoffMs, transport
      // failures from transientBackoffMs: one formula (timing.ts).
      const failure =
        error instanceof WeChatError
          ? { errcode: error.errcode, transient: false }
          : { transient: true }
      next = now + failureBackoffMs(failure, this.outcome.failures, tuning)
      this.outcome.state = 'failing'
    }
    this.backOffUntil(next)
    this.publish(now)
    this.deps.logger.error(
      {
        appid: this.appid,
        kind: this.kind,
        reason,
        errcode: info.errcode,
        errmsg: info.errmsg,
        rid: info.rid,
        nextAttemptAt: new Date(next).toISOString(),
      },
      'token refresh failed'
    )
    return this.unavailable()
  }

  private backOffUntil(at: number): void {
    this.outcome.retryAt = at
    this.outcome.nextAttemptAt = at
    this.schedule(at)
  }

  /** Shares this replica's latest outcome (see slot-health.ts). */
  private publish(at: number): void {
    publishHealth(this.deps.store, this.slot, this.outcome.snapshot(at)).catch(() => undefined)
  }

  /** The error a reader gets while there is no token to serve. */
  private unavailable(): EngineError {
    return this.outcome.unavailable(this.appid, this.deps.clock.now())
  }

  private emitRefresh(
    reason: RefreshReason,
    result: RefreshResult,
    started: number,
    generation?: number,
    error?: WeChatErrorInfo
  ): void {
    this.deps.emit('refresh', {
      appid: this.appid,
      kind: this.kind,
      reason,
      result,
      durationSeconds: (performance.now() - started) / 1000,
      ...(generation === undefined ? {} : { generation }),
      ...(error === undefined ? {} : { error }),
    })
  }

  private reconcileQuota(token: string): void {
    if (!this.deps.tuning.reconcileQuota) return
    this.deps.wechat
      .apiQuota(token, this.quota.api)
      .then(async (q) => {
        this.wechatQuota = { used: q.used, limit: q.dailyLimit, at: this.deps.clock.now() }
        await this.deps.store.setValue(
          storeKeys.wechatQuota(this.appid, this.quota.api),
          JSON.stringify(this.wechatQuota),
          2 * 86_400_000
        )
      })
      .catch((error: unknown) =>
        this.deps.logger.warn(
          { appid: this.appid, err: (error as Error).message },
          'quota reconciliation failed'
        )
      )
  }

  // --- checks that cost no token call -----------------------------------------------------------

  /**
   * Asks WeChat whether it accepts this replica's secret, with a normal-mode stable_token call: it
   * retires no token of either kind (stable normal mode is idempotent; classic tokens are isolated
   * from it) and spends no /cgi-bin/token quota. A replica whose secret WeChat refuses still serves
   * the shared token, but could not refresh it: its status says so at once instead of at its first
   * refresh.
   */
  private async verifySecret(): Promise<void> {
    const { wechat, app, store, clock } = this.deps
    const count = (): Promise<void> =>
      this.kind === 'stable'
        ? this.quota.reserve('scheduled')
        : new DailyCounter(store, clock, (at) => storeKeys.quota(app.appid, TOKEN_API.stable, at))
            .increment()
            .then(() => undefined)
    try {
      await wechat.stableToken(app.appid, app.secret, false, count)
      this.secret = 'ok'
    } catch (error) {
      if (!(error instanceof WeChatError) || !refusesThisReplica(error.errcode)) return
      this.secret = 'rejected'
      this.outcome.lastError = { ...error.info, at: clock.now() }
      this.deps.logger.error(
        { appid: this.appid, errcode: error.errcode, errmsg: error.errmsg, rid: error.rid },
        "WeChat refuses this replica's secret: it serves the shared token but cannot refresh it"
      )
    }
  }

  private scheduleForeignCheck(): void {
    const seconds = this.deps.app.foreignCheckSeconds
    if (seconds <= 0 || this.stopped) return
    // A little jitter keeps replicas from asking at the same instant (only one wins the round).
    const delay = seconds * 1000 * (0.9 + Math.random() * 0.2)
    this.foreignTimer = this.deps.clock.setTimeout(() => {
      this.runForeignCheck()
        .catch((error: unknown) =>
          this.deps.logger.debug(
            { appid: this.appid, err: (error as Error).message },
            'foreign refresh check failed'
          )
        )
        .finally(() => this.scheduleForeignCheck())
    }, delay)
  }

  private async runForeignCheck(): Promise<void> {
    const served = this.serve()
    if (!served || !this.deps.store.isUp() || this.inflight !== null) return
    const { store, clock, wechat, instanceId, tuning, app } = this.deps
    const check: ForeignCheckDeps = {
      store,
      clock,
      wechat,
      slot: this.slot,
      kind: this.kind,
      api: this.quota.api,
      instanceId,
      intervalMs: app.foreignCheckSeconds * 1000,
      lockTtlMs: tuning.lockTtlMs,
      brokerCount: async () => {
        await this.quota.sync()
        return this.quota.used()
      },
    }
    const finding = await checkForeignRefresh(check, served.accessToken)
    if (!finding) return
    const now = clock.now()
    this.outcome.lastForeign = { at: now, evidence: finding.evidence }
    this.publish(now)
    this.deps.emit('foreignRefresh', {
      appid: this.appid,
      kind: this.kind,
      evidence: finding.evidence,
    })
    this.deps.logger.warn(
      {
        appid: this.appid,
        kind: this.kind,
        evidence: finding.evidence,
        after: new Date(finding.after).toISOString(),
      },
      finding.evidence === 'token_rejected'
        ? 'WeChat refused the current token: someone else refreshed it; replacing it now'
        : 'WeChat counted a token call this broker did not make: someone else refreshed; replacing the token now'
    )
    // The foreign call happened after the previous check: the current token dies `overlap` after it.
    this.noteRetirement(
      finding.evidence === 'token_rejected' ? now : finding.after + this.overlapMs()
    )
    // Every replica caps what it serves now, before this one's replacement lands: announced like
    // an intent (not stored as one), carrying the retirement.
    const retiresBy = this.retiresBy ?? now
    this.deps.store
      .publishIntent(this.slot, {
        at: now,
        generation: served.generation,
        by: instanceId,
        retiresBy,
      })
      .catch(() => undefined)
    await this.refresh({ reason: 'foreign', expectToken: served.accessToken }).catch(
      () => undefined
    )
  }

  // --- readers --------------------------------------------------------------------------------

  /** The cold path: one upstream call per process (and, through the lock, per cluster). */
  private obtain(): Promise<ServedToken> {
    this.cold ??= this.coldStart().finally(() => {
      this.cold = null
    })
    return this.cold
  }

  private coldStart(): Promise<ServedToken> {
    return this.untilSettled(
      { reason: 'cold_start' },
      (outcome) => {
        const served = this.serve()
        if (served) return served
        // Still backing off after a failure: say so rather than ask WeChat again.
        if (
          outcome === null &&
          this.outcome.retryAt !== null &&
          this.outcome.retryAt > this.deps.clock.now()
        )
          throw this.unavailable()
        return undefined
      },
      () =>
        new EngineError(
          'token_unavailable',
          `no token for ${this.appid} within ${this.deps.coldStartTimeoutMs} ms`,
          { retryAfterSeconds: 1 }
        )
    )
  }

  private async handleReport(
    token: string,
    errcode: number | undefined,
    reporter: string | undefined
  ): Promise<InvalidateResult> {
    await this.catchUp()
    const result = await this.compareAndRefresh(token, reporter)
    this.deps.emit('invalidation', {
      appid: this.appid,
      result: result.reason,
      ...(errcode === undefined ? {} : { errcode }),
      ...(reporter === undefined ? {} : { client: reporter }),
    })
    return result
  }

  private async compareAndRefresh(
    token: string,
    reporter: string | undefined
  ): Promise<InvalidateResult> {
    if (this.record?.token !== token) {
      // An older token. WeChat may have refused it in its own time (past the overlap) or early
      // (a revoke after a leak, a refresh by someone else) and the current one with it: the broker
      // cannot tell, since WeChat takes a classic token for its overlap after each of any number
      // of refreshes and a stable token until its own expiry. So it asks WeChat about the current
      // token (once per 30 s) and, if refused, takes the report as a report of that one.
      const current = this.record?.token
      if (current === undefined || (await this.checkToken(current)) !== 'invalid') {
        return { refreshed: false, reason: 'stale_report', token: await this.getToken() }
      }
      token = current
    }
    const reported = token
    const reason = await this.untilSettled<InvalidateOutcome>(
      { reason: 'invalidated', expectToken: reported, reporter },
      (outcome) => {
        if (outcome?.type === 'cooldown' || outcome?.type === 'limited') {
          return outcome.type === 'limited' ? 'limited' : 'cooldown'
        }
        return outcome && this.record?.token !== reported ? 'refreshed' : undefined
      },
      () => this.unavailable(),
      (error) => {
        // The stable force_refresh guards refuse like the cooldown and the daily bounds do.
        if (error instanceof EngineError && error.code === 'cooldown') return 'cooldown'
        if (error instanceof EngineError && error.code === 'quota_exhausted' && this.serve())
          return 'limited'
        throw error
      }
    )
    return { refreshed: reason === 'refreshed', reason, token: await this.getToken() }
  }

  /**
   * The one loop of every caller that needs a refresh to land — a cold start, an admin refresh, a
   * report: `settle` turns what is known into an answer (or undefined to go on), first with no
   * outcome, then after each refresh with its outcome; `failure` may turn a refresh's error into an
   * answer. Between attempts it waits for a newer generation (another replica's announcement wakes
   * it; a store read covers a lost one), until the cold-start bound, then throws `timeout()`.
   */
  private async untilSettled<T>(
    request: RefreshRequest,
    settle: (outcome: Outcome | null) => T | undefined,
    timeout: () => EngineError,
    failure: (error: unknown) => T = (error) => {
      throw error
    }
  ): Promise<T> {
    const { clock } = this.deps
    const deadline = clock.now() + this.deps.coldStartTimeoutMs
    const first = settle(null)
    if (first !== undefined) return first
    for (;;) {
      let outcome: Outcome
      try {
        outcome = await this.refresh(request)
      } catch (error) {
        return failure(error)
      }
      const answer = settle(outcome)
      if (answer !== undefined) return answer
      if (this.stopped || clock.now() >= deadline) throw timeout()
      // Another replica holds the lock: wait for its generation. Otherwise (a request that shared
      // another's refresh, a fenced write) try again at once.
      if (outcome.type === 'contended') await this.waitForNewer(deadline)
      await this.catchUp()
    }
  }

  private async catchUp(): Promise<void> {
    try {
      this.adopt(await this.deps.store.readToken(this.slot))
    } catch {
      // Degraded: keep what we have.
    }
  }

  /** Waits for a newer record to be adopted, or a short poll at most, on the engine's clock. */
  private waitForNewer(deadline: number): Promise<void> {
    const { clock } = this.deps
    return new Promise((resolve) => {
      const wake = (): void => {
        clock.clearTimeout(timer)
        this.waiters.delete(wake)
        resolve()
      }
      const timer = clock.setTimeout(wake, Math.max(0, Math.min(POLL_MS, deadline - clock.now())))
      this.waiters.add(wake)
    })
  }
}
