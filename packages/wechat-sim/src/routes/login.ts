import { createHmac, timingSafeEqual } from 'node:crypto'
import { WxError } from '../errors.js'
import type { SimState } from '../state/sim-state.js'
import type { SimUser } from '../types.js'
import {
  authenticateApp,
  ok,
  requireToken,
  wxJson,
  type SimApp,
  type SimContext,
} from './context.js'

/** hmac_sha256(key = the session_key string's bytes, message = ""), lower-case hex. */
export function sessionSignature(sessionKey: string): string {
  return createHmac('sha256', sessionKey).update('').digest('hex')
}

/**
 * The signed-user check shared by checksession and resetusersessionkey: sig_method must be
 * hmac_sha256 (87008), the user must have a session_key (87007), the signature must match (87009).
 */
function signedUser(c: SimContext, state: SimState): SimUser {
  const config = requireToken(c, state)
  const q = c.req.query()
  if (!q.openid || !q.signature) throw new WxError(40097)
  if (q.sig_method !== 'hmac_sha256') throw new WxError(87008)
  const user = state.users.get(config.appid, q.openid)
  if (!user?.sessionKey) throw new WxError(87007)
  const expected = Buffer.from(sessionSignature(user.sessionKey))
  const given = Buffer.from(q.signature)
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    throw new WxError(87009)
  return user
}

/** code2Session and the session-key checks. */
export function registerLoginRoutes(app: SimApp, state: SimState): void {
  app.get('/sns/jscode2session', (c) => {
    const q = c.req.query()
    const config = authenticateApp(c, state, {
      appid: q.appid,
      secret: q.secret,
      grantType: { given: q.grant_type, expected: 'authorization_code' },
    })
    if (!q.js_code) throw new WxError(41008)
    // Success carries no errcode, like the token endpoints.
    return wxJson(c, { ...state.users.login(config, q.js_code, state.now()) })
  })

  app.get('/wxa/checksession', (c) => {
    signedUser(c, state)
    return ok(c)
  })

  app.get('/wxa/resetusersessionkey', (c) => {
    const user = signedUser(c, state)
    return ok(c, { openid: user.openid, session_key: state.users.resetSessionKey(user) })
  })
}
