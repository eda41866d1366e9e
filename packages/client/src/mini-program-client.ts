import { authApi, type AuthApi } from './api/auth.js'
import { urlLinkApi, urlSchemeApi, shortLinkApi } from './api/links.js'
import type { ShortLinkApi, UrlLinkApi, UrlSchemeApi } from './api/links.js'
import { openApiApi, type OpenApiApi } from './api/open-api.js'
import { phoneApi, type PhoneApi } from './api/phone.js'
import { securityApi, type SecurityApi } from './api/security.js'
import { subscribeMessageApi, type SubscribeMessageApi } from './api/subscribe-message.js'
import { wxaCodeApi, type WxaCodeApi } from './api/wxacode.js'
import { InvalidInputError } from './errors.js'
import type { CallOptions, FetchLike } from './http.js'
import { retryPolicy, type RetryOptions } from './retry.js'
import type { SessionExchanger, TokenProvider } from './token-provider.js'
import { baseUrl, optionalPositiveInt, requireString } from './validate.js'
import { endpointPath, WeChatExecutor, type QueryValue } from './wechat-executor.js'

export interface MiniProgramClientOptions {
  appid: string
  /** Usually a BrokerTokenProvider. */
  tokens: TokenProvider
  /** Who runs code2Session. Default: `tokens`, when it can (BrokerTokenProvider can). */
  sessions?: SessionExchanger
  /** WeChat's API origin. Default `https://api.weixin.qq.com`. */
  baseUrl?: string
  /** Per-request timeout in milliseconds. Default 10000. */
  timeoutMs?: number
  /** Retries for -1, network errors and 5xx. Default 2 retries, 200–2000 ms backoff with jitter. */
  retry?: RetryOptions
  /** Defaults to the global `fetch`. */
  fetch?: FetchLike
}

export interface CallParams extends CallOptions {
  /** Query parameters; the client adds `access_token` itself. */
  query?: Record<string, QueryValue>
  /** JSON body (POST). */
  body?: unknown
}

function isSessionExchanger(value: unknown): value is SessionExchanger {
  return typeof (value as Partial<SessionExchanger>).code2Session === 'function'
}

/** Typed calls to WeChat's Mini Program server API, with the token from a TokenProvider. */
export class MiniProgramClient {
  readonly appid: string
  readonly auth: AuthApi
  readonly phone: PhoneApi
  readonly subscribeMessage: SubscribeMessageApi
  readonly wxacode: WxaCodeApi
  readonly urlScheme: UrlSchemeApi
  readonly urlLink: UrlLinkApi
  readonly shortLink: ShortLinkApi
  readonly security: SecurityApi
  readonly openApi: OpenApiApi
  readonly #exec: WeChatExecutor

  constructor(options: MiniProgramClientOptions) {
    const o = options as Partial<MiniProgramClientOptions> | undefined
    this.appid = requireString('appid', o?.appid, '"wx0123456789abcdef"')
    const tokens = o?.tokens
    if (typeof tokens?.getToken !== 'function') {
      throw new InvalidInputError(
        'tokens',
        'pass a TokenProvider, e.g. new BrokerTokenProvider({...})'
      )
    }
    this.#exec = new WeChatExecutor({
      baseUrl: baseUrl('baseUrl', o?.baseUrl ?? 'https://api.weixin.qq.com'),
      tokens,
      timeoutMs: optionalPositiveInt('timeoutMs', o?.timeoutMs, 10_000),
      retry: retryPolicy(o?.retry, 'retry'),
      fetch: o?.fetch ?? ((input, init) => fetch(input, init)),
    })
    const sessions = o?.sessions ?? (isSessionExchanger(tokens) ? tokens : undefined)
    this.auth = authApi(this.#exec, sessions)
    this.phone = phoneApi(this.#exec)
    this.subscribeMessage = subscribeMessageApi(this.#exec)
    this.wxacode = wxaCodeApi(this.#exec)
    this.urlScheme = urlSchemeApi(this.#exec)
    this.urlLink = urlLinkApi(this.#exec)
    this.shortLink = shortLinkApi(this.#exec)
    this.security = securityApi(this.#exec)
    this.openApi = openApiApi(this.#exec)
  }

  /**
   * Any JSON endpoint not wrapped above, with the same token handling, retries and errors.
   * Resolves with the parsed body (errcode 0 answers included).
   */
  async call<T = Record<string, unknown>>(
    method: 'GET' | 'POST',
    path: string,
    params: CallParams = {}
  ): Promise<T> {
    if (method !== 'GET' && method !== 'POST') {
      throw new InvalidInputError('method', 'must be "GET" or "POST"')
    }
    if (params.query !== undefined && 'access_token' in params.query) {
      throw new InvalidInputError('query.access_token', 'leave it out: the client adds the token')
    }
    const { query, body, ...options } = params
    return this.#exec.json<T>({ method, path: endpointPath(path), query, body }, options)
  }
}
