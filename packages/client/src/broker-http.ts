import { BrokerError, TransportError } from './errors.js'
import { httpRequest, isRecord, parseJson, type FetchLike, type HttpResponse } from './http.js'
import { backoffDelay, sleep, type RetryPolicy } from './retry.js'

export interface BrokerHttpOptions {
  baseUrls: readonly string[]
  apiKey: string
  timeoutMs: number
  retry: RetryPolicy
  fetch: FetchLike
}

export interface BrokerRequest {
  method: 'GET' | 'POST'
  path: string
  body?: unknown
  /**
   * Whether repeating the request is harmless. Non-idempotent requests (jscode2session consumes
   * its code) move to another broker only when the request was never delivered.
   */
  idempotent: boolean
  signal?: AbortSignal | undefined
  timeoutMs?: number | undefined
}

function toBrokerError(response: HttpResponse, url: string): BrokerError | undefined {
  const json = parseJson(response.body)
  const error = isRecord(json) ? json.error : undefined
  if (!isRecord(json) || !isRecord(error) || typeof error.code !== 'string') return undefined
  // WeChat's details sit inside `error`; also accepted beside it.
  const field = (name: string): unknown => error[name] ?? json[name]
  const errcode = field('errcode')
  const errmsg = field('errmsg')
  const rid = field('rid')
  const retryAfter = Number(response.headers.get('retry-after') ?? Number.NaN)
  return new BrokerError({
    status: response.status,
    code: error.code,
    message: typeof error.message === 'string' ? error.message : '',
    requestId: typeof error.request_id === 'string' ? error.request_id : undefined,
    url,
    errcode: typeof errcode === 'number' ? errcode : undefined,
    errmsg: typeof errmsg === 'string' ? errmsg : undefined,
    rid: typeof rid === 'string' ? rid : undefined,
    retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined,
  })
}

/**
 * Talks to one or more broker replicas: bearer auth, JSON, timeouts, failover. The replica that
 * answered last is tried first next time, so a dead replica costs one failed connect, not one
 * per call.
 */
export class BrokerHttp {
  #preferred = 0

  constructor(private readonly options: BrokerHttpOptions) {}

  async request(req: BrokerRequest): Promise<Record<string, unknown>> {
    const { baseUrls, retry } = this.options
    let lastError: unknown
    for (let round = 0; round <= retry.retries; round++) {
      if (round > 0) await sleep(backoffDelay(retry, round - 1), req.signal)
      for (let i = 0; i < baseUrls.length; i++) {
        const index = (this.#preferred + i) % baseUrls.length
        try {
          const result = await this.#once(baseUrls[index]!, req)
          this.#preferred = index
          return result
        } catch (error) {
          if (!this.#mayTryElsewhere(error, req)) throw error
          lastError = error
        }
      }
    }
    throw lastError
  }

  #mayTryElsewhere(error: unknown, req: BrokerRequest): boolean {
    if (error instanceof TransportError) {
      return req.idempotent ? error.retryable : error.kind === 'connect'
    }
    // 503 = this replica has no valid token (e.g. it lost Redis); another may still have one.
    if (error instanceof BrokerError) return req.idempotent && error.retryable
    return false
  }

  async #once(base: string, req: BrokerRequest): Promise<Record<string, unknown>> {
    const url = base + req.path
    const headers: Record<string, string> = {
      authorization: `Bearer ${this.options.apiKey}`,
      accept: 'application/json',
    }
    if (req.body !== undefined) headers['content-type'] = 'application/json'
    const response = await httpRequest(
      this.options.fetch,
      url,
      {
        method: req.method,
        headers,
        body: req.body === undefined ? null : JSON.stringify(req.body),
      },
      url,
      req.timeoutMs ?? this.options.timeoutMs,
      req.signal
    )
    if (response.status >= 200 && response.status < 300) {
      const json = parseJson(response.body)
      if (isRecord(json)) return json
      throw new TransportError({
        kind: 'invalid_response',
        target: url,
        status: response.status,
        detail: 'expected a JSON object',
      })
    }
    // A body without the broker's envelope came from something else (a proxy, a wrong URL).
    throw (
      toBrokerError(response, url) ??
      new TransportError({ kind: 'http', target: url, status: response.status })
    )
  }
}
