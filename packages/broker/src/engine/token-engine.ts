import { EventEmitter } from 'node:events'
import { randomBytes } from 'node:crypto'
import { hostname } from 'node:os'
import { systemClock } from './clock.js'
import { assessReadiness } from './readiness.js'
import { MemoryStore } from './store/memory-store.js'
import { RedisStore } from './store/redis-store.js'
import type { Store } from './store/types.js'
import { TokenSlot } from './token-slot.js'
import {
  EngineError,
  type AppStatus,
  type Clock,
  type Code2SessionResult,
  type EngineEventName,
  type EngineEvents,
  type EngineOptions,
  type EngineTuning,
  type InvalidateResult,
  type Logger,
  type Readiness,
  type ServedToken,
  type TokenCheck,
  type TokenEngine,
} from './types.js'
import { WeChatApi } from './wechat-api.js'
import { WeChatError, WeChatTransportError } from './wechat-errors.js'

export const DEFAULT_TUNING: Readonly<EngineTuning> = Object.freeze({
  wechatOverlapSeconds: 300,
  lockTtlMs: 10_000,
  syncIntervalMs: 5_000,
  retry: { attempts: 4, baseDelayMs: 500, maxDelayMs: 4_000 },
  failureBackoffMs: 30_000,
  transientBackoffMs: 5_000,
  maxBackoffMs: 600_000,
  maxJitterSeconds: 30,
  forceRefreshDailyLimit: 20,
  forceRefreshMinIntervalSeconds: 30,
  reconcileQuota: true,
})

/** The second store sync after the store comes back (see start()). */
const RESYNC_AFTER_RECOVERY_MS = 1_000

/** How long stop() waits for refreshes in flight. */
const STOP_DRAIN_MS = 3_000

const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} }

export function createEngine(options: EngineOptions): TokenEngine {
  return new Engine(options)
}

class Engine extends EventEmitter implements TokenEngine {
  readonly appids: readonly string[]
  private readonly slots = new Map<string, TokenSlot>()
  private readonly bySlotKey = new Map<string, TokenSlot>()
  private readonly store: Store
  private readonly wechat: WeChatApi
  private readonly secrets = new Map<string, string>()
  private readonly logger: Logger
  private readonly clock: Clock
  private readonly syncIntervalMs: number
  private syncTimer: unknown = undefined
  /** new → starting → started; stopped at any point. Readers wait while it is starting. */
  private phase: 'new' | 'starting' | 'started' | 'stopped' = 'new'
  private starting: Promise<void> = Promise.resolve()
  private readonly coldStartTimeoutMs: number

  constructor(options: EngineOptions) {
    super()
    const clock = options.clock ?? systemClock
    this.clock = clock
    const tuning: EngineTuning = { ...DEFAULT_TUNING, ...options.tuning }
    const logger = options.logger ?? silentLogger
    const instanceId =
      options.instanceId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
    this.logger = logger
    this.store =
      options.store.kind === 'redis'
        ? new RedisStore({ nodes: options.store.nodes, keyPrefix: options.store.keyPrefix, logger })
        : new MemoryStore(clock)
    const emit = <K extends EngineEventName>(event: K, payload: EngineEvents[K]): void => {
      this.emit(event, payload)
    }
    this.wechat = new WeChatApi(
      options.wechat,
      tuning.retry,
      (e) => emit('wechatRequest', e),
      clock
    )
    for (const app of options.apps) {
      if (this.slots.has(app.appid)) throw new Error(`app ${app.appid} is configured twice`)
      const slot = new TokenSlot({
        app,
        store: this.store,
        wechat: this.wechat,
        clock,
        logger,
        tuning,
        instanceId,
        coldStartTimeoutMs: options.coldStartTimeoutMs ?? 10_000,
        verifySecretOnStart: options.wechat.verifySecretOnStart ?? false,
        emit,
      })
      this.slots.set(app.appid, slot)
      this.bySlotKey.set(slot.slot, slot)
      this.secrets.set(app.appid, app.secret)
    }
    this.appids = [...this.slots.keys()]
    this.syncIntervalMs = tuning.syncIntervalMs
    this.coldStartTimeoutMs = options.coldStartTimeoutMs ?? 10_000
  }

  start(): Promise<void> {
    if (this.phase !== 'new') return this.starting
    this.phase = 'starting'
    this.starting = this.run().then(() => {
      if (this.phase === 'starting') this.phase = 'started'
    })
    return this.starting
  }

  private async run(): Promise<void> {
    this.store.onAnnounce((slotKey, record) => this.bySlotKey.get(slotKey)?.adopt(record))
    this.store.onIntent((slotKey, intent) => this.bySlotKey.get(slotKey)?.onIntent(intent))
    this.store.onUpChange((up) => {
      this.emit('store', { up } satisfies EngineEvents['store'])
      // Back: catch up, then a slot that is due (or has no token) refreshes now instead of at its
      // next retry, up to 15 s away.
      if (up) {
        void this.syncAll().then(() => {
          for (const slot of this.slots.values()) slot.storeRecovered()
        })
        // Every replica puts back what it knows as it reconnects (daily-counter.ts); one that read
        // before another had done so reads again a moment later instead of at the next sync.
        this.clock.setTimeout(() => {
          if (!this.stopped()) void this.syncAll()
        }, RESYNC_AFTER_RECOVERY_MS)
      }
    })
    await this.store.connect()
    // A stop during the start (a signal while the store connects) ends it: no refresh may begin.
    if (this.stopped()) return
    this.emit('store', { up: this.store.isUp() } satisfies EngineEvents['store'])
    if (this.store.kind === 'memory') this.logger.warn({}, 'in-memory store: single instance only')
    await this.syncAll()
    if (this.stopped()) return
    for (const slot of this.slots.values()) slot.start()
    this.scheduleSync()
  }

  /** The periodic store sync, on the engine's clock. */
  private scheduleSync(): void {
    this.syncTimer = this.clock.setTimeout(() => {
      if (this.stopped()) return
      void this.syncAll().finally(() => {
        if (!this.stopped()) this.scheduleSync()
      })
    }, this.syncIntervalMs)
  }

  async stop(): Promise<void> {
    this.phase = 'stopped'
    this.clock.clearTimeout(this.syncTimer)
    // Let refreshes in flight write their token, so no upstream call is wasted; but a slow WeChat
    // must not hold shutdown: after the drain window, requests in flight are aborted.
    const drained = Promise.all([...this.slots.values()].map((slot) => slot.stop()))
    let drainTimer: unknown
    const window = new Promise<void>(
      (resolve) => (drainTimer = this.clock.setTimeout(() => resolve(), STOP_DRAIN_MS))
    )
    await Promise.race([drained, window])
    this.clock.clearTimeout(drainTimer)
    this.wechat.abortAll()
    await drained
    await this.store.close()
  }

  async getToken(appid: string, opts: { minExpiresIn?: number } = {}): Promise<ServedToken> {
    const slot = this.slot(appid)
    await this.untilStarted()
    return slot.getToken(opts.minExpiresIn)
  }

  tokenOwner(token: string): { appid: string; current: boolean } | undefined {
    for (const slot of this.slots.values()) {
      const known = slot.knows(token)
      if (known) return { appid: slot.appid, current: known === 'current' }
    }
    return undefined
  }

  checkToken(appid: string, token: string): Promise<TokenCheck> {
    return this.slot(appid).checkToken(token)
  }

  peekToken(appid: string): ServedToken | undefined {
    return this.slots.get(appid)?.serve() ?? undefined
  }

  async invalidate(
    appid: string,
    accessToken: string,
    errcode?: number,
    reporter?: string
  ): Promise<InvalidateResult> {
    const slot = this.slot(appid)
    await this.untilStarted()
    return slot.invalidate(accessToken, errcode, reporter)
  }

  async refresh(appid: string): Promise<ServedToken> {
    const slot = this.slot(appid)
    await this.untilStarted()
    return slot.forceRefresh()
  }

  async code2Session(appid: string, jsCode: string): Promise<Code2SessionResult> {
    this.slot(appid)
    try {
      return await this.wechat.code2Session(appid, this.secrets.get(appid)!, jsCode)
    } catch (error) {
      if (error instanceof WeChatError) {
        throw new EngineError(
          'wechat_error',
          `WeChat refused the login (errcode ${error.errcode})`,
          { wechat: error.info }
        )
      }
      const label = error instanceof WeChatTransportError ? error.label : 'network'
      throw new EngineError('wechat_error', `WeChat could not be reached (${label})`, {
        wechat: { errcode: -1, errmsg: `WeChat could not be reached (${label})` },
        cause: error,
      })
    }
  }

  status(): AppStatus[] {
    return [...this.slots.values()].map((s) => s.status())
  }

  readiness(): Readiness {
    return assessReadiness({
      phase: this.phase,
      storeUp: this.store.isUp(),
      apps: this.status(),
      now: this.clock.now(),
    })
  }

  /** A method, not a field test, so that checks after an await are not narrowed away. */
  private stopped(): boolean {
    return this.phase === 'stopped'
  }

  /**
   * A request that arrives while the engine starts (the server listens first, see server.ts) waits
   * for the start, as a reader waits for a first token, up to the cold-start bound.
   */
  private async untilStarted(): Promise<void> {
    if (this.phase !== 'starting') return
    let timer: unknown
    const late = new Promise<void>(
      (resolve) => (timer = this.clock.setTimeout(resolve, this.coldStartTimeoutMs))
    )
    try {
      await Promise.race([this.starting.catch(() => undefined), late])
    } finally {
      this.clock.clearTimeout(timer)
    }
    if (this.phase === 'starting') {
      throw new EngineError('token_unavailable', 'the broker is still starting', {
        retryAfterSeconds: 1,
      })
    }
  }

  private slot(appid: string): TokenSlot {
    const slot = this.slots.get(appid)
    if (!slot) throw new EngineError('unknown_app', `unknown appid ${appid}`)
    return slot
  }

  private async syncAll(): Promise<void> {
    await Promise.all(
      [...this.slots.values()].map((slot) =>
        slot
          .sync()
          .catch((error: unknown) =>
            this.logger.debug(
              { appid: slot.appid, err: (error as Error).message },
              'store sync failed'
            )
          )
      )
    )
  }
}
