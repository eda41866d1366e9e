import {
  EngineError,
  type AppStatus,
  type Code2SessionResult,
  type EngineEventName,
  type EngineEvents,
  type InvalidateResult,
  type Readiness,
  type ServedToken,
  type TokenEngine,
} from '../engine/types.js'

/**
 * The engine as the HTTP routes see it while it starts. The server binds its port before the
 * engine connects to the store and fetches tokens, so that a start that cannot listen costs no
 * upstream call; requests can therefore arrive before the engine is ready. Token readers wait for
 * the start (up to `waitMs`, the cold-start bound) as they would for a first token, then 503
 * `token_unavailable`; readiness says `starting`. The server swaps in the engine itself once it has
 * started, so the token GET's hot path never goes through here.
 */
export class StartingEngine implements TokenEngine {
  private done = false

  constructor(
    private readonly engine: TokenEngine,
    private readonly started: Promise<void>,
    private readonly waitMs: number
  ) {
    started.then(
      () => (this.done = true),
      () => undefined
    )
  }

  get appids(): readonly string[] {
    return this.engine.appids
  }

  start(): Promise<void> {
    return this.started
  }

  stop(): Promise<void> {
    return this.engine.stop()
  }

  async getToken(appid: string, opts?: { signal?: AbortSignal }): Promise<ServedToken> {
    await this.untilStarted()
    return this.engine.getToken(appid, opts)
  }

  /** Nothing to serve at once: the hot path declines and the Hono route waits in getToken. */
  peekToken(): ServedToken | undefined {
    return undefined
  }

  async invalidate(
    appid: string,
    accessToken: string,
    errcode?: number
  ): Promise<InvalidateResult> {
    await this.untilStarted()
    return this.engine.invalidate(appid, accessToken, errcode)
  }

  async refresh(appid: string): Promise<ServedToken> {
    await this.untilStarted()
    return this.engine.refresh(appid)
  }

  /** A login needs WeChat only, not the store: it need not wait. */
  code2Session(appid: string, jsCode: string): Promise<Code2SessionResult> {
    return this.engine.code2Session(appid, jsCode)
  }

  status(): AppStatus[] {
    return this.engine.status()
  }

  readiness(): Readiness {
    const r = this.engine.readiness()
    return this.done ? r : { ...r, ready: false, reasons: ['starting', ...r.reasons] }
  }

  on<K extends EngineEventName>(event: K, listener: (e: EngineEvents[K]) => void): this {
    this.engine.on(event, listener)
    return this
  }

  off<K extends EngineEventName>(event: K, listener: (e: EngineEvents[K]) => void): this {
    this.engine.off(event, listener)
    return this
  }

  private async untilStarted(): Promise<void> {
    if (this.done) return
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.waitMs)))
    try {
      await Promise.race([this.started.catch(() => undefined), late])
    } finally {
      clearTimeout(timer)
    }
    if (!this.done) {
      throw new EngineError('token_unavailable', 'the broker is still starting', {
        retryAfterSeconds: 1,
      })
    }
  }
}
