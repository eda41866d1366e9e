import { sessionKeySignature } from '../crypto/signature.js'
import { InvalidInputError, WeChatApiError } from '../errors.js'
import type { CallOptions } from '../http.js'
import type { Code2SessionResult, SessionExchanger } from '../token-provider.js'
import { requireString } from '../validate.js'
import type { WeChatExecutor } from '../wechat-executor.js'

export interface SessionKeyParams {
  openid: string
  /** The user's session_key; only its HMAC signature is sent. */
  sessionKey: string
}

export interface ResetUserSessionKeyResult {
  openid: string
  /** The new session_key (the old one stops working; the expiry is inherited). */
  session_key: string
}

export interface AuthApi {
  /** code2Session through the broker's jscode2session: this service never holds the secret. */
  code2Session(jsCode: string, options?: CallOptions): Promise<Code2SessionResult>
  /** True while the session_key is the user's current one; false on 87009 (invalid signature). */
  checkSessionKey(params: SessionKeyParams, options?: CallOptions): Promise<boolean>
  resetUserSessionKey(
    params: SessionKeyParams,
    options?: CallOptions
  ): Promise<ResetUserSessionKeyResult>
}

function signedQuery(params: SessionKeyParams): Record<string, string> {
  const openid = requireString('openid', params?.openid, 'the user\u2019s openid')
  const sessionKey = requireString('sessionKey', params.sessionKey, 'the user\u2019s session_key')
  return { openid, signature: sessionKeySignature(sessionKey), sig_method: 'hmac_sha256' }
}

export function authApi(exec: WeChatExecutor, sessions: SessionExchanger | undefined): AuthApi {
  return {
    code2Session(jsCode, options) {
      if (sessions === undefined) {
        return Promise.reject(
          new InvalidInputError(
            'sessions',
            'code2Session goes through the broker: pass a BrokerTokenProvider as `tokens` or as `sessions`'
          )
        )
      }
      return sessions.code2Session(jsCode, options)
    },

    async checkSessionKey(params, options) {
      const query = signedQuery(params)
      try {
        await exec.json({ method: 'GET', path: '/wxa/checksession', query }, options)
        return true
      } catch (error) {
        if (error instanceof WeChatApiError && error.errcode === 87009) return false
        throw error
      }
    },

    async resetUserSessionKey(params, options) {
      const query = signedQuery(params)
      const json = await exec.json<ResetUserSessionKeyResult>(
        { method: 'GET', path: '/wxa/resetusersessionkey', query },
        options
      )
      return { openid: json.openid, session_key: json.session_key }
    },
  }
}
