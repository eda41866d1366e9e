import type { CallOptions } from './http.js'
import { requireString } from './validate.js'

/** Where a client gets its access_token. Implement it to plug in any token source. */
export interface TokenProvider {
  /** The current access_token. Called before every WeChat request, so cache it. */
  getToken(options?: CallOptions): Promise<string>
  /**
   * Reports that `token` failed with `errcode` (40001/40014/42001), so the next `getToken()`
   * returns a replacement. Optional: without it a token error is thrown, not retried.
   */
  invalidate?(token: string, errcode: number, options?: CallOptions): Promise<void>
}

/** The answer of code2Session: `unionid` only when the app is bound to an Open Platform account. */
export interface Code2SessionResult {
  openid: string
  session_key: string
  unionid?: string
}

/** Exchanges a `wx.login` code for the user's session: done by the broker, which holds the secret. */
export interface SessionExchanger {
  code2Session(jsCode: string, options?: CallOptions): Promise<Code2SessionResult>
}

/** A fixed token, for tests and scripts. It cannot be refreshed, so token errors are thrown. */
export class StaticTokenProvider implements TokenProvider {
  readonly #token: string

  constructor(token: string) {
    this.#token = requireString('token', token, 'an access_token string')
  }

  getToken(options?: CallOptions): Promise<string> {
    options?.signal?.throwIfAborted()
    return Promise.resolve(this.#token)
  }
}
