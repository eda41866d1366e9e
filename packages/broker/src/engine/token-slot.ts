import { nextShanghaiMidnight, shanghaiDay } from './clock.js'
import { QuotaExhaustedError, QuotaGuard } from './quota-guard.js'
import { StoreUnavailableError, type Lease, type Store, type TokenRecord } from './store/types.js'
import {
  EngineError,
  type AppConfig,
  type AppState,
  type AppStatus,
  type Clock,
  type EngineEvents,
  type EngineTuning,
  type InvalidateResult,
  type Logger,
  type RefreshReason,
  type RefreshResult,
  type ServedToken,
  type TokenKind,
  type WeChatErrorInfo,
} from './types.js'
import type { TokenAnswer, WeChatApi } from './wechat-api.js'
import { WeChatError, WeChatTransportError, failureBackoffMs } from './wechat-errors.js'

export interface SlotDeps {
  app: AppConfig
  store: Store
  wechat: WeChatApi
  clock: Clock
  logger: Logger
  tuning: EngineTuning
  instanceId: string
  coldStartTimeoutMs: number
  emit: <K extends keyof EngineEvents>(event: K, payload: EngineEvents[K]) => void
}

type Outcome =
  | { type: 'refreshed'; record: TokenRecord }
  | { type: 'current' }
  | { type: 'contended' }
  | { type: 'cooldown'; retryAfterMs: number }

interface RefreshRequest {
  reason: RefreshReason
  /** For reports: refresh only while this token is current. */
  expectToken?: string
}

const MIN_SERVE_MS = 1000
const POLL_MS = 200

/**
 * One appid and token kind: its current token, its refresh schedule, and the rules for replacing
 * it (one refresher under the lock, fenced writes, compare-and-refresh, quota and back-off).
 */
export class TokenSlot {
  readonly slot: string
  readonly kind: TokenKind
  readonly quota: QuotaGuard
  private record: TokenRecord | null = null
  private jitterMs = 0
  private timer: unknown = undefined
  private inflight: Promise<Outcome> | null = null
  private cold: Promise<ServedToken> | null = null
  private readonly reports = new Map<string, Promise<InvalidateResult>>()
  private readonly waiters = new Set<() => void>()
  private state: AppState = 'cold'
  private failures = 0
  private lastRefresh: AppStatus['lastRefresh'] = null
  private lastError: AppStatus['lastError'] = null
  private nextAttemptAt: number | null = null
  private wechatQuota: AppStatus['quota']['wechat'] = null
  private stopped = false

  constructor(private readonly deps: SlotDeps) {
    const { app } = deps
    this.kind = app.tokenKind
    this.slot = `${app.appid}:${app.tokenKind}`
    const api = app.tokenKind === 'stable' ? '/cgi-bin/stable_token' : '/cgi-bin/token'
    this.quota = new QuotaGuard(
      deps.store,
      deps.clock,
      app.appid,
      api,
      app.dailyQuota,
      app.quotaWarnRatio,
      (e) => deps.emit('quota', e)
    )
  }

  get appid(): string {
    return this.deps.app.appid
  }

  /** Starts the background work: the first token is fetched without waiting for a reader. */
  start(): void {
    this.obtain().catch(() => undefined)
  }

  /** Stops scheduling; resolves once a refresh in flight has finished (its write lands). */
  async stop(): Promise<void> {
    this.stopped = true
    this.deps.clock.clearTimeout(this.timer)
    for (const wake of this.waiters) wake()
    await this.inflight?.catch(() => undefined)
  }

  /** Takes a record from the store or an announcement if it is newer than ours. */
  adopt(record: TokenRecord | null): boolean {
    if (!record || (this.record && record.generation <= this.record.generation)) return false
    this.record = record
    const lead = this.kind === 'stable' ? this.overlapMs() * 0.1 : this.leadMs() * 0.1
    this.jitterMs = Math.random() * Math.min(this.deps.tuning.maxJitterSeconds * 1000, lead)
    if (this.state === 'cold' || this.state === 'failing') this.state = 'ok'
    this.failures = 0
    this.nextAttemptAt = null
    this.schedule()
    for (const wake of this.waiters) wake()
    return true
  }

  /** The current token with its safe remaining use, or null when there is none worth serving. */
  serve(): ServedToken | null {
    const record = this.record
    if (!record) return null
    const safeUntil = this.safeUntil(record)
    const remaining = safeUntil - this.deps.clock.now()
    if (remaining < MIN_SERVE_MS) return null
    return {
      appid: this.appid,
      kind: this.kind,
      accessToken: record.token,
      generation: record.generation,
      expiresIn: Math.floor(remaining / 1000),
      expiresAt: safeUntil,
    }
  }

  async getToken(): Promise<ServedToken> {
    return this.serve() ?? this.obtain()
  }

  /** Compare-and-refresh; concurrent reports of one token share one answer. */
  invalidate(token: string, errcode?: number): Promise<InvalidateResult> {
    const pending = this.reports.get(token)
    if (pending) return pending
    const report = this.handleReport(token, errcode).finally(() => this.reports.delete(token))
    this.reports.set(token, report)
    return report
  }

  /** A forced refresh (admin), still subject to the quota and the cooldown. */
  async forceRefresh(): Promise<ServedToken> {
    const deadline = performance.now() + this.deps.coldStartTimeoutMs
    const before = this.record?.generation ?? 0
    for (;;) {
      const outcome = await this.refresh({ reason: 'admin' })
      if (outcome.type === 'cooldown') {
        throw new EngineError(
          'cooldown',
          `a refresh of ${this.appid} happened less than the cooldown ago`,
          {
            retryAfterSeconds: Math.ceil(outcome.retryAfterMs / 1000),
          }
        )
      }
      const served = this.serve()
      if (served && served.generation > before) return served
      if (performance.now() >= deadline) throw this.unavailable()
      await this.waitForChange(deadline)
    }
  }

  /** Catches up with the store: a missed announcement, a store that lost its data, today's quota. */
  async sync(): Promise<void> {
    if (!this.deps.store.isUp()) return
    const stored = await this.deps.store.readToken(this.slot)
    this.adopt(stored)
    if (this.record && (!stored || stored.generation < this.record.generation) && this.serve()) {
      await this.deps.store.seedToken(this.slot, this.record)
    }
    await this.quota.sync()
    const figure = await this.deps.store.getValue(this.wechatQuotaKey())
    if (figure) this.wechatQuota = JSON.parse(figure) as AppStatus['quota']['wechat']
  }

  status(): AppStatus {
    const served = this.serve()
    return {
      appid: this.appid,
      kind: this.kind,
      state: this.state,
      generation: this.record?.generation ?? null,
      obtainedAt: this.record?.obtainedAt ?? null,
      expiresIn: served?.expiresIn ?? null,
      wechatExpiresAt: this.record?.wechatExpiresAt ?? null,
      refreshLeadSeconds: this.effectiveLeadSeconds(),
      lastRefresh: this.lastRefresh,
      lastError: this.lastError,
      nextAttemptAt: this.nextAttemptAt,
      quota: {
        used: this.quota.used(),
        limit: this.quota.limit,
        warn: this.quota.warn(),
        wechat: this.wechatQuota,
      },
    }
  }

  // --- schedule -------------------------------------------------------------------------------

  /** How long before WeChat's expiry the current record is due: what alerts compare against. */
  private effectiveLeadSeconds(): number {
    const record = this.record
    if (!record && this.kind === 'classic') return this.deps.app.refreshLeadSeconds
    if (!record) return (this.overlapMs() * 0.8) / 1000
    return (record.wechatExpiresAt - this.plannedRefreshAt(record)) / 1000
  }

  private leadMs(): number {
    return this.deps.app.refreshLeadSeconds * 1000
  }

  private overlapMs(): number {
    return this.deps.tuning.wechatOverlapSeconds * 1000
  }

  /**
   * When this replica means to replace a record. Classic: `lead` before WeChat's expiry (but not in
   * the first half of its life). Stable: inside WeChat's own last-overlap window, because only there
   * does normal mode hand out a new token.
   */
  private plannedRefreshAt(record: TokenRecord): number {
    if (this.kind === 'stable') return record.wechatExpiresAt - this.overlapMs() * 0.8
    const life = record.wechatExpiresAt - record.obtainedAt
    return Math.max(record.obtainedAt + life / 2, record.wechatExpiresAt - this.leadMs())
  }

  /**
   * Until when a reader may use a record. A classic token is retired `overlap` after the refresh that
   * replaces it, and scheduled refreshes never start before plannedRefreshAt (jitter only delays), so
   * plannedRefreshAt + overlap is safe. A stable token renewed in normal mode lives to its own expiry.
   */
  private safeUntil(record: TokenRecord): number {
    if (this.kind === 'stable') return record.wechatExpiresAt
    return Math.min(record.wechatExpiresAt, this.plannedRefreshAt(record) + this.overlapMs())
  }

  private schedule(at?: number): void {
    if (this.stopped) return
    this.deps.clock.clearTimeout(this.timer)
    const now = this.deps.clock.now()
    const due =
      at ??
      this.nextAttemptAt ??
      (this.record ? this.plannedRefreshAt(this.record) + this.jitterMs : now)
    this.timer = this.deps.clock.setTimeout(() => this.onTimer(), Math.max(0, due - now))
  }

  private onTimer(): void {
    if (this.stopped) return
    const reason: RefreshReason = this.serve() ? 'scheduled' : 'cold_start'
    const generation = this.record?.generation
    this.refresh({ reason })
      .then(() => {
        // Nothing new (another replica holds the lock, or WeChat handed back the same stable
        // token): look again soon. A new record has rescheduled already.
        if (this.record?.generation === generation)
          this.schedule(this.deps.clock.now() + this.retryDelayMs())
      })
      .catch(() => undefined) // recorded in refresh(); the failure back-off has rescheduled
  }

  private retryDelayMs(): number {
    return Math.max(1000, Math.min(this.overlapMs() * 0.05, 15_000))
  }

  // --- refresh --------------------------------------------------------------------------------

  /** One refresh at a time per process; callers arriving meanwhile share its outcome. */
  private refresh(request: RefreshRequest): Promise<Outcome> {
    this.inflight ??= this.runRefresh(request).finally(() => {
      this.inflight = null
    })
    return this.inflight
  }

  private async runRefresh(request: RefreshRequest): Promise<Outcome> {
    const { store, emit } = this.deps
    const started = performance.now()
    let lease: Lease | null
    try {
      lease = await store.acquire(this.slot, this.deps.tuning.lockTtlMs)
    } catch (error) {
      emit('lockAcquire', { result: 'error' })
      throw this.failed(request.reason, error, started)
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
      if (!this.needsRefresh(request)) return { type: 'current' }
      if (request.reason === 'invalidated' || request.reason === 'admin') {
        const retryAfterMs = await this.cooldownLeft()
        if (retryAfterMs > 0) return { type: 'cooldown', retryAfterMs }
      }
      // WeChat starts the token's life when it handles the request, somewhere between sending it
      // and receiving the answer: counting from the send never overestimates the life left.
      const requestedAt = this.deps.clock.now()
      const answer = await this.fetchToken(request)
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
      this.state = 'ok'
      this.lastRefresh = { at: now, reason: request.reason }
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
      throw this.failed(request.reason, error, started)
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
        return this.deps.clock.now() >= this.plannedRefreshAt(record)
      case 'invalidated':
        return record.token === request.expectToken
      case 'admin':
        return true
    }
  }

  private async fetchToken(request: RefreshRequest): Promise<TokenAnswer> {
    const { wechat, app } = this.deps
    const reserve = (): Promise<void> => this.quota.reserve()
    if (this.kind === 'classic') return wechat.classicToken(app.appid, app.secret, reserve)
    if (request.reason === 'admin') return this.forceStable(reserve)
    const answer = await wechat.stableToken(app.appid, app.secret, false, reserve)
    // Normal mode is idempotent: if WeChat hands back the very token that failed, only a force helps.
    if (request.reason === 'invalidated' && answer.accessToken === request.expectToken)
      return this.forceStable(reserve)
    return answer
  }

  /** force_refresh, within WeChat's limits: a few a day, some seconds apart. */
  private async forceStable(reserve: () => Promise<void>): Promise<TokenAnswer> {
    const { store, clock, tuning, app } = this.deps
    const now = clock.now()
    const countKey = `force:${app.appid}:${shanghaiDay(now)}`
    const lastKey = `force-last:${app.appid}`
    if ((await store.getNumber(countKey)) >= tuning.forceRefreshDailyLimit) {
      throw new EngineError(
        'quota_exhausted',
        `stable-token force_refresh limit for ${app.appid} is used up today`,
        {
          retryAfterSeconds: Math.ceil((nextShanghaiMidnight(now) - now) / 1000),
        }
      )
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
    await store.incr(countKey, 2 * 86_400_000)
    await store.setValue(lastKey, String(now), spacingMs)
    return this.deps.wechat.stableToken(app.appid, app.secret, true, reserve)
  }

  private async cooldownLeft(): Promise<number> {
    const { store, clock } = this.deps
    const key = `cooldown:${this.slot}`
    const cooldownMs = this.deps.app.invalidateCooldownSeconds * 1000
    const last = Number((await store.getValue(key)) ?? 0)
    const now = clock.now()
    if (last > 0 && now - last < cooldownMs) return last + cooldownMs - now
    if (cooldownMs > 0) await store.setValue(key, String(now), cooldownMs)
    return 0
  }

  private keepAlive(lease: Lease): { lost: boolean; stop(): void } {
    const ttl = this.deps.tuning.lockTtlMs
    const keeper = {
      lost: false,
      stop: () => clearInterval(interval),
    }
    const interval = setInterval(() => {
      lease
        .extend(ttl)
        .then((ok) => {
          if (!ok) keeper.lost = true
        })
        .catch(() => (keeper.lost = true))
    }, ttl / 3)
    interval.unref()
    return keeper
  }

  /** Records a failed refresh, sets the back-off, and returns the error readers should see. */
  private failed(reason: RefreshReason, error: unknown, started: number): EngineError {
    const now = this.deps.clock.now()
    if (error instanceof EngineError) {
      // A guard refused (stable force_refresh limits): nothing was asked of WeChat.
      if (error.code === 'quota_exhausted') this.emitRefresh(reason, 'quota_exhausted', started)
      return error
    }
    if (error instanceof StoreUnavailableError) {
      this.emitRefresh(reason, 'store_error', started)
      // No refresh without the lock: keep serving from memory and try again shortly.
      this.schedule(now + this.retryDelayMs())
      return new EngineError('store_unavailable', 'the token store is unreachable', {
        retryAfterSeconds: 1,
      })
    }
    if (error instanceof QuotaExhaustedError) {
      this.state = 'quota_exhausted'
      this.backOffUntil(error.resetAt)
      this.emitRefresh(reason, 'quota_exhausted', started)
      this.deps.logger.error(
        { appid: this.appid, api: error.api },
        'daily token quota used up; no more upstream calls today'
      )
      return this.unavailable()
    }
    this.failures++
    let info: WeChatErrorInfo
    let result: RefreshResult
    let next: number
    const { tuning } = this.deps
    if (error instanceof WeChatError) {
      info = error.info
      result = 'wechat_error'
      next =
        error.errcode === 45009
          ? nextShanghaiMidnight(now)
          : now +
            failureBackoffMs(
              error.errcode,
              this.failures,
              tuning.failureBackoffMs,
              tuning.maxBackoffMs
            )
      if (error.errcode === 45009) this.state = 'quota_exhausted'
    } else {
      const label = error instanceof WeChatTransportError ? error.label : 'network'
      info = { errcode: -1, errmsg: `WeChat could not be reached (${label})` }
      result = 'network_error'
      next =
        now + Math.min(tuning.maxBackoffMs, tuning.transientBackoffMs * 2 ** (this.failures - 1))
    }
    if (this.state !== 'quota_exhausted') this.state = 'failing'
    this.lastError = { ...info, at: now }
    this.backOffUntil(next)
    this.emitRefresh(reason, result, started, undefined, info)
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
    this.nextAttemptAt = at
    this.schedule(at)
  }

  /** The error a reader gets while there is no token to serve. */
  private unavailable(): EngineError {
    const now = this.deps.clock.now()
    const retryAfterSeconds = Math.max(
      1,
      Math.ceil(((this.nextAttemptAt ?? now + 1000) - now) / 1000)
    )
    // WeChat's own words, when WeChat refused (never for transport failures, recorded as -1).
    const last = this.lastError
    const wechat =
      last && last.errcode !== -1
        ? { errcode: last.errcode, errmsg: last.errmsg, rid: last.rid }
        : undefined
    if (this.state === 'quota_exhausted') {
      const fromWeChat = wechat?.errcode === 45009
      return new EngineError(
        'quota_exhausted',
        `the daily token quota of ${this.appid} is used up`,
        {
          retryAfterSeconds,
          ...(fromWeChat ? { wechat } : {}),
        }
      )
    }
    if (wechat) {
      return new EngineError(
        'wechat_error',
        `WeChat refused a token for ${this.appid} (errcode ${wechat.errcode})`,
        {
          retryAfterSeconds,
          wechat,
        }
      )
    }
    return new EngineError('token_unavailable', `no valid token for ${this.appid} yet`, {
      retryAfterSeconds,
    })
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
          this.wechatQuotaKey(),
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

  private wechatQuotaKey(): string {
    return `wechat-quota:${this.appid}:${this.quota.api}`
  }

  // --- readers --------------------------------------------------------------------------------

  /** The cold path: one upstream call per process (and, through the lock, per cluster). */
  private obtain(): Promise<ServedToken> {
    this.cold ??= this.coldStart().finally(() => {
      this.cold = null
    })
    return this.cold
  }

  private async coldStart(): Promise<ServedToken> {
    const deadline = performance.now() + this.deps.coldStartTimeoutMs
    for (;;) {
      const served = this.serve()
      if (served) return served
      if (this.nextAttemptAt !== null && this.nextAttemptAt > this.deps.clock.now())
        throw this.unavailable()
      const outcome = await this.refresh({ reason: 'cold_start' })
      const after = this.serve()
      if (after) return after
      if (this.stopped || performance.now() >= deadline) {
        throw new EngineError(
          'token_unavailable',
          `no token for ${this.appid} within ${this.deps.coldStartTimeoutMs} ms`,
          {
            retryAfterSeconds: 1,
          }
        )
      }
      // Another replica holds the lock: its announcement wakes us; a store read covers a lost one.
      if (outcome.type === 'contended') await this.waitForChange(deadline)
      await this.catchUp()
    }
  }

  private async handleReport(token: string, errcode?: number): Promise<InvalidateResult> {
    await this.catchUp()
    const result = await this.compareAndRefresh(token)
    this.deps.emit('invalidation', {
      appid: this.appid,
      result: result.reason,
      ...(errcode === undefined ? {} : { errcode }),
    })
    return result
  }

  private async compareAndRefresh(token: string): Promise<InvalidateResult> {
    if (this.record?.token !== token) {
      return { refreshed: false, reason: 'stale_report', token: await this.getToken() }
    }
    const deadline = performance.now() + this.deps.coldStartTimeoutMs
    for (;;) {
      let outcome: Outcome
      try {
        outcome = await this.refresh({ reason: 'invalidated', expectToken: token })
      } catch (error) {
        // The stable force_refresh guards (spacing, daily limit) refuse like a cooldown does.
        if (
          error instanceof EngineError &&
          (error.code === 'cooldown' || error.code === 'quota_exhausted')
        ) {
          return { refreshed: false, reason: 'cooldown', token: await this.getToken() }
        }
        throw error
      }
      if (outcome.type === 'cooldown')
        return { refreshed: false, reason: 'cooldown', token: await this.getToken() }
      if (this.record?.token !== token)
        return { refreshed: true, reason: 'refreshed', token: await this.getToken() }
      if (performance.now() >= deadline) throw this.unavailable()
      if (outcome.type === 'contended') await this.waitForChange(deadline)
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

  /** Waits (a short poll at most) for a new record to be adopted. */
  private waitForChange(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer)
        this.waiters.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, Math.max(0, Math.min(POLL_MS, deadline - performance.now())))
      this.waiters.add(wake)
    })
  }
}
