import { InvalidInputError, TransportError, WeChatApiError } from './errors.js'
import { httpRequest, type CallOptions, type FetchLike, type HttpResponse } from './http.js'
import { backoffDelay, sleep, type RetryPolicy } from './retry.js'
import type { TokenProvider } from './token-provider.js'
import { readWeChatImage, readWeChatJson, type ImageResult } from './wechat-response.js'

/** Token errors: the token used is reported once and the call retried once with a new one. */
export const TOKEN_ERRCODES: ReadonlySet<number> = new Set([40001, 40014, 42001])

export type QueryValue = string | number | boolean | undefined

export interface WeChatRequest {
  method: 'GET' | 'POST'
  /** Endpoint path, e.g. `/wxa/msg_sec_check`. */
  path: string
  query?: Record<string, QueryValue> | undefined
  body?: unknown
}

export interface WeChatExecutorOptions {
  baseUrl: string
  tokens: TokenProvider
  timeoutMs: number
  retry: RetryPolicy
  fetch: FetchLike
}

/** Worth another try after a backoff: WeChat's -1, network failures, timeouts, 5xx. */
function isTransient(error: unknown): boolean {
  if (error instanceof WeChatApiError) return error.errcode === -1
  return error instanceof TransportError && error.retryable
}

/** Sends WeChat requests with the access_token in the query, handling token errors and retries. */
export class WeChatExecutor {
  constructor(private readonly options: WeChatExecutorOptions) {}

  json<T>(request: WeChatRequest, options?: CallOptions): Promise<T> {
    return this.#run(request, options, (r, t) => readWeChatJson(r, request.path, t) as T)
  }

  image(request: WeChatRequest, options?: CallOptions): Promise<ImageResult> {
    return this.#run(request, options, (r, t) => readWeChatImage(r, request.path, t))
  }

  async #run<T>(
    request: WeChatRequest,
    options: CallOptions | undefined,
    read: (response: HttpResponse, token: string) => T
  ): Promise<T> {
    const { tokens, retry } = this.options
    const signal = options?.signal
    let token = await tokens.getToken({ signal })
    let tokenReported = false
    let attempt = 0
    for (;;) {
      try {
        return read(await this.#send(request, token, options), token)
      } catch (error) {
        if (
          error instanceof WeChatApiError &&
          TOKEN_ERRCODES.has(error.errcode) &&
          !tokenReported &&
          tokens.invalidate !== undefined
        ) {
          // Once per call: a second token error means the broker cannot help, so it surfaces.
          tokenReported = true
          try {
            await tokens.invalidate(token, error.errcode, { signal })
          } catch (reportError) {
            if (signal?.aborted === true) throw reportError
            // The call failed with WeChat's error; why it could not recover is the cause.
            const { errcode, errmsg, endpoint } = error
            throw new WeChatApiError({ errcode, errmsg, endpoint, cause: reportError })
          }
          const next = await tokens.getToken({ signal })
          if (next === token) throw error
          token = next
          continue
        }
        if (isTransient(error) && attempt < retry.retries) {
          await sleep(backoffDelay(retry, attempt++), signal)
          continue
        }
        throw error
      }
    }
  }

  #send(
    request: WeChatRequest,
    token: string,
    options: CallOptions | undefined
  ): Promise<HttpResponse> {
    const search = new URLSearchParams()
    for (const [key, value] of Object.entries(request.query ?? {})) {
      if (value !== undefined) search.set(key, String(value))
    }
    search.set('access_token', token)
    const url = `${this.options.baseUrl}${request.path}?${search.toString()}`
    const init: RequestInit =
      request.method === 'POST'
        ? {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(request.body ?? {}),
          }
        : { method: 'GET' }
    // Errors name the path only: the URL carries the token.
    return httpRequest(
      this.options.fetch,
      url,
      init,
      request.path,
      options?.timeoutMs ?? this.options.timeoutMs,
      options?.signal
    )
  }
}

/** Checks a caller-given endpoint path for `call()`. */
export function endpointPath(path: unknown): string {
  if (typeof path !== 'string' || !/^\/[A-Za-z0-9_./-]*$/.test(path) || path.includes('..')) {
    throw new InvalidInputError(
      'path',
      'must be an endpoint path such as "/wxa/getpaidunionid" (leading slash, no host or query)'
    )
  }
  return path
}
