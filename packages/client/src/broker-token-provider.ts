import { BrokerHttp } from './broker-http.js'
import { systemClock, type Clock } from './clock.js'
import { InvalidInputError, TransportError } from './errors.js'
import type { CallOptions, FetchLike } from './http.js'
import { retryPolicy, type RetryOptions } from './retry.js'
import type { Code2SessionResult, SessionExchanger, TokenProvider } from './token-provider.js'
import { baseUrl, optionalNonNegativeInt, optionalPositiveInt, requireString } from './validate.js'

export interface BrokerTokenProviderOptions {
  /** One broker URL, e.g. `http://wxbroker:8700`. Give this or `baseUrls`. */
  baseUrl?: string
  /** Several broker replicas, tried in order with failover. */
  baseUrls?: readonly string[]
  /** The client key (`Authorization: Bearer …`). */
  apiKey: string
  appid: string
  /** Per-request timeout in milliseconds. Default 5000. */
  timeoutMs?: number
  /** Seconds taken off the broker's `expires_in` before the cached token is fetched again. Default 30. */
  skewSeconds?: number
  /** Rounds over all replicas for transient failures. Default 2 retries, 100–1000 ms backoff. */
  retry?: RetryOptions
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike
  /** Defaults to `Date.now`. */
  clock?: Clock
}

interface CachedToken {
  token: string
  /** When to fetch again (broker's expires_in minus the skew), in clock milliseconds. */
  refreshAt: number
}

/** How many reported tokens are remembered, so each failed token is reported only once. */
const REPORTED_MEMORY = 32
/** How long a token the broker kept after a report is used before the provider asks again. */
const KEPT_TOKEN_MS = 10_000

/**
 * Gets access tokens from a wxbroker. Caches each token until the broker's `expires_in` (minus
 * a skew margin), coalesces concurrent misses into one request, fails over between replicas, and
 * reports a failed token once however many calls saw it fail.
 */
export class BrokerTokenProvider implements TokenProvider, SessionExchanger {
  readonly appid: string
  readonly #http: BrokerHttp
  readonly #clock: Clock
  readonly #skewMs: number
  readonly #path: string
  #cached: CachedToken | undefined
  #inflight: Promise<CachedToken> | undefined
  readonly #reported = new Map<string, Promise<void>>()

  constructor(options: BrokerTokenProviderOptions) {
    const o = options as Partial<BrokerTokenProviderOptions> | undefined
    if (o === undefined || typeof o !== 'object') {
      throw new InvalidInputError('options', 'pass { baseUrl, apiKey, appid }')
    }
    const urls = o.baseUrls ?? (o.baseUrl === undefined ? [] : [o.baseUrl])
    if (urls.length === 0) {
      throw new InvalidInputError(
        'baseUrl',
        'give the broker URL as baseUrl, or several as baseUrls'
      )
    }
    const baseUrls = urls.map((u, i) => baseUrl(o.baseUrls ? `baseUrls[${i}]` : 'baseUrl', u))
    if (typeof o.apiKey !== 'string' || o.apiKey.trim() === '') {
      throw new InvalidInputError('apiKey', 'must be the client key the broker issued (non-empty)')
    }
    this.appid = requireString('appid', o.appid, '"wx0123456789abcdef"')
    this.#clock = o.clock ?? systemClock
    this.#skewMs = optionalNonNegativeInt('skewSeconds', o.skewSeconds, 30) * 1000
    this.#path = `/v1/apps/${encodeURIComponent(this.appid)}`
    this.#http = new BrokerHttp({
      baseUrls,
      apiKey: o.apiKey,
      timeoutMs: optionalPositiveInt('timeoutMs', o.timeoutMs, 5000),
      retry: retryPolicy(o.retry ?? { retries: 2, baseDelayMs: 100, maxDelayMs: 1000 }, 'retry'),
      fetch: o.fetch ?? ((input, init) => fetch(input, init)),
    })
  }

  async getToken(options?: CallOptions): Promise<string> {
    options?.signal?.throwIfAborted()
    const cached = this.#cached
    if (cached !== undefined && this.#clock() < cached.refreshAt) return cached.token
    // One request for every concurrent miss; a caller's abort ends only its own wait.
    this.#inflight ??= this.#fetchToken(options?.timeoutMs).finally(() => {
      this.#inflight = undefined
    })
    const fresh = await abortable(this.#inflight, options?.signal)
    return fresh.token
  }

  /**
   * Reports `token` as failed. Concurrent and repeated reports of one token send one request;
   * a token that is no longer the cached one was already replaced, so nothing is sent.
   */
  invalidate(token: string, errcode: number, options?: CallOptions): Promise<void> {
    options?.signal?.throwIfAborted()
    let report = this.#reported.get(token)
    if (report === undefined) {
      if (this.#cached !== undefined && this.#cached.token !== token) return Promise.resolve()
      report = this.#report(token, errcode, options?.timeoutMs)
      this.#reported.set(token, report)
      if (this.#reported.size > REPORTED_MEMORY) {
        this.#reported.delete(this.#reported.keys().next().value!)
      }
      // A failed report may be sent again by the next caller.
      report.catch(() => this.#reported.delete(token))
    }
    return abortable(report, options?.signal)
  }

  /** code2Session through the broker's jscode2session: this service never holds the app secret. */
  async code2Session(jsCode: string, options?: CallOptions): Promise<Code2SessionResult> {
    requireString('jsCode', jsCode, 'the code from wx.login()')
    const json = await this.#http.request({
      method: 'POST',
      path: `${this.#path}/jscode2session`,
      body: { js_code: jsCode },
      idempotent: false,
      signal: options?.signal,
      timeoutMs: options?.timeoutMs,
    })
    const { openid, session_key: sessionKey, unionid } = json
    if (typeof openid !== 'string' || typeof sessionKey !== 'string') {
      throw this.#invalid('jscode2session', 'openid and session_key')
    }
    return typeof unionid === 'string'
      ? { openid, session_key: sessionKey, unionid }
      : { openid, session_key: sessionKey }
  }

  async #fetchToken(timeoutMs: number | undefined): Promise<CachedToken> {
    // Not tied to any one caller's signal: other callers share this request.
    const json = await this.#http.request({
      method: 'GET',
      path: `${this.#path}/token`,
      idempotent: true,
      timeoutMs,
    })
    return this.#store(json, 'token')
  }

  async #report(token: string, errcode: number, timeoutMs: number | undefined): Promise<void> {
    const json = await this.#http.request({
      method: 'POST',
      path: `${this.#path}/token/invalidate`,
      body: { access_token: token, errcode },
      idempotent: true,
      timeoutMs,
    })
    // The broker answers with the current token, whatever the reason (refreshed, stale, cooldown).
    const entry = this.#store(json, 'token/invalidate')
    if (entry.token === token) {
      // It kept the very token reported as failed (a cooldown or a daily bound held the refresh
      // back): use it a short while only, and let the next failure report it again, instead of
      // holding a dead token for its whole expires_in.
      entry.refreshAt = Math.min(entry.refreshAt, this.#clock() + KEPT_TOKEN_MS)
      this.#reported.delete(token)
    }
  }

  #store(json: Record<string, unknown>, route: string): CachedToken {
    const { access_token: token, expires_in: expiresIn } = json
    if (typeof token !== 'string' || token === '' || typeof expiresIn !== 'number') {
      throw this.#invalid(route, 'access_token and expires_in')
    }
    // A slow answer may carry a token already reported as failed: keep its replacement.
    if (this.#reported.has(token) && this.#cached !== undefined && this.#cached.token !== token) {
      return this.#cached
    }
    const entry = { token, refreshAt: this.#clock() + expiresIn * 1000 - this.#skewMs }
    this.#cached = entry
    return entry
  }

  #invalid(route: string, fields: string): TransportError {
    return new TransportError({
      kind: 'invalid_response',
      target: `${this.#path}/${route}`,
      detail: `the broker's answer lacks ${fields}`,
    })
  }
}

/** Waits for a shared promise, but lets this caller stop waiting when its signal aborts. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return promise
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason as Error)
    signal.addEventListener('abort', onAbort, { once: true })
    promise.finally(() => signal.removeEventListener('abort', onAbort)).then(resolve, reject)
  })
}
