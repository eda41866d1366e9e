import { WeChatError, WeChatTransportError, isTransientErrcode, ridOf } from './wechat-errors.js'
import { systemClock } from './clock.js'
import { retryPauseMs } from './timing.js'
import type { Clock, Code2SessionResult, EngineEvents, TokenKind, WeChatOptions } from './types.js'

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attempts: number
  baseDelayMs: number
  maxDelayMs: number
}

/** The WeChat endpoint of each token kind: the one place the kind is mapped to its path. */
export const TOKEN_API: Readonly<Record<TokenKind, string>> = Object.freeze({
  classic: '/cgi-bin/token',
  stable: '/cgi-bin/stable_token',
})

export interface TokenAnswer {
  accessToken: string
  /** Seconds, as WeChat gave them. */
  expiresIn: number
}

export interface WeChatQuota {
  dailyLimit: number
  used: number
  remain: number
}

interface RequestOptions {
  method: 'GET' | 'POST'
  query?: Record<string, string>
  body?: unknown
  /** Retry transient failures (-1, 45011, 5xx, network) with backoff. */
  retry: boolean
  /** Runs before every upstream attempt (quota accounting); throwing aborts the request. */
  beforeAttempt?: () => Promise<void>
}

type JsonObject = Record<string, unknown>

/**
 * The broker's calls to the WeChat server API: timeouts, bounded retries with exponential backoff
 * and jitter for transient failures, and the next fallback base URL when a connection fails.
 * Never logs or reports a URL: URLs carry the app secret.
 */
export class WeChatApi {
  private readonly bases: string[]
  private readonly timeoutMs: number

  constructor(
    options: WeChatOptions,
    private readonly retryPolicy: RetryPolicy,
    private readonly onRequest: (e: EngineEvents['wechatRequest']) => void,
    /** The engine's one clock: back-off waits between retries run on it. */
    private readonly clock: Clock = systemClock
  ) {
    this.bases = [options.baseUrl, ...options.fallbackBaseUrls].map((b) => b.replace(/\/+$/, ''))
    this.timeoutMs = options.timeoutMs
  }

  /** Aborted on shutdown: requests and back-off waits in flight end at once. */
  private readonly shutdown = new AbortController()

  /** Ends every request and back-off wait in flight (engine shutdown). */
  abortAll(): void {
    this.shutdown.abort()
  }

  async classicToken(
    appid: string,
    secret: string,
    beforeAttempt: () => Promise<void>
  ): Promise<TokenAnswer> {
    const json = await this.request(TOKEN_API.classic, {
      method: 'GET',
      query: { grant_type: 'client_credential', appid, secret },
      retry: true,
      beforeAttempt,
    })
    return tokenAnswer(TOKEN_API.classic, json)
  }

  async stableToken(
    appid: string,
    secret: string,
    forceRefresh: boolean,
    beforeAttempt: () => Promise<void>
  ): Promise<TokenAnswer> {
    const json = await this.request(TOKEN_API.stable, {
      method: 'POST',
      body: { grant_type: 'client_credential', appid, secret, force_refresh: forceRefresh },
      // A forced refresh is never repeated blindly: each one retires a token and spends a daily force.
      retry: !forceRefresh,
      beforeAttempt,
    })
    return tokenAnswer(TOKEN_API.stable, json)
  }

  /** Login codes are single-use, so a login is never retried after WeChat may have seen it. */
  async code2Session(appid: string, secret: string, jsCode: string): Promise<Code2SessionResult> {
    const json = await this.request('/sns/jscode2session', {
      method: 'GET',
      query: { appid, secret, js_code: jsCode, grant_type: 'authorization_code' },
      retry: false,
    })
    const { openid, session_key: sessionKey, unionid } = json
    if (typeof openid !== 'string' || typeof sessionKey !== 'string') {
      throw new WeChatTransportError(
        '/sns/jscode2session',
        'bad_body',
        'answer lacks openid or session_key'
      )
    }
    return typeof unionid === 'string'
      ? { openid, session_key: sessionKey, unionid }
      : { openid, session_key: sessionKey }
  }

  async apiQuota(accessToken: string, cgiPath: string): Promise<WeChatQuota> {
    const json = await this.request('/cgi-bin/openapi/quota/get', {
      method: 'POST',
      query: { access_token: accessToken },
      body: { cgi_path: cgiPath },
      retry: false,
    })
    const quota = (json.quota ?? {}) as JsonObject
    return {
      dailyLimit: Number(quota.daily_limit ?? 0),
      used: Number(quota.used ?? 0),
      remain: Number(quota.remain ?? 0),
    }
  }

  private async request(endpoint: string, options: RequestOptions): Promise<JsonObject> {
    const attempts = options.retry ? Math.max(1, this.retryPolicy.attempts) : 1
    let lastError: Error = new Error('no attempt made')
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (attempt > 1) await this.pause(retryPauseMs(attempt - 1, this.retryPolicy))
      try {
        return await this.tryBases(endpoint, options)
      } catch (error) {
        if (!isRetryable(error)) throw error
        lastError = error as Error
      }
    }
    throw lastError
  }

  /** One attempt: the primary base URL, then each fallback while connections fail. */
  private async tryBases(endpoint: string, options: RequestOptions): Promise<JsonObject> {
    let lastError: Error = new Error('no base URL')
    for (const base of this.bases) {
      await options.beforeAttempt?.()
      try {
        return await this.once(base, endpoint, options)
      } catch (error) {
        lastError = error as Error
        const connectionFailed =
          error instanceof WeChatTransportError &&
          (error.label === 'network' || error.label === 'timeout')
        if (!connectionFailed) throw error
      }
    }
    throw lastError
  }

  private async once(base: string, endpoint: string, options: RequestOptions): Promise<JsonObject> {
    const url = new URL(base + endpoint)
    for (const [k, v] of Object.entries(options.query ?? {})) url.searchParams.set(k, v)
    const started = performance.now()
    const report = (errcode: string): void =>
      this.onRequest({ endpoint, errcode, durationSeconds: (performance.now() - started) / 1000 })
    let response: Response
    try {
      response = await fetch(url, {
        method: options.method,
        headers: options.body === undefined ? {} : { 'content-type': 'application/json' },
        body: options.body === undefined ? null : JSON.stringify(options.body),
        signal: AbortSignal.any([AbortSignal.timeout(this.timeoutMs), this.shutdown.signal]),
      })
    } catch (error) {
      const label = (error as Error).name === 'TimeoutError' ? 'timeout' : 'network'
      report(label)
      throw new WeChatTransportError(
        endpoint,
        label,
        label === 'timeout' ? `no answer within ${this.timeoutMs} ms` : 'connection failed',
        { cause: error }
      )
    }
    let json: JsonObject
    try {
      const text = await response.text()
      if (response.status >= 500) throw new Error(`HTTP ${response.status}`)
      json = JSON.parse(text) as JsonObject
    } catch (error) {
      const label = response.status >= 300 ? `http_${response.status}` : 'bad_body'
      report(label)
      throw new WeChatTransportError(endpoint, label, `unusable answer (HTTP ${response.status})`, {
        cause: error,
      })
    }
    const errcode = typeof json.errcode === 'number' ? json.errcode : 0
    report(String(errcode))
    if (errcode !== 0) {
      const errmsg = typeof json.errmsg === 'string' ? json.errmsg : ''
      throw new WeChatError(endpoint, { errcode, errmsg, rid: ridOf(errmsg) })
    }
    return json
  }

  /** A back-off wait that shutdown cuts short (the next attempt then fails at once). */
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const clock = this.clock
      const timer = clock.setTimeout(done, ms)
      function done(): void {
        clock.clearTimeout(timer)
        resolve()
      }
      this.shutdown.signal.addEventListener('abort', done, { once: true })
    })
  }
}

function isRetryable(error: unknown): boolean {
  if (error instanceof WeChatError) return isTransientErrcode(error.errcode)
  return error instanceof WeChatTransportError && error.label !== 'bad_body'
}

function tokenAnswer(endpoint: string, json: JsonObject): TokenAnswer {
  const { access_token: accessToken, expires_in: expiresIn } = json
  if (
    typeof accessToken !== 'string' ||
    accessToken === '' ||
    typeof expiresIn !== 'number' ||
    expiresIn <= 0
  ) {
    throw new WeChatTransportError(endpoint, 'bad_body', 'answer lacks access_token or expires_in')
  }
  return { accessToken, expiresIn }
}
