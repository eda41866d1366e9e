import type { MiddlewareHandler } from 'hono'
import { APPID_PATTERN, type Scope } from '../config/schema.js'
import type { AccessPolicy, Denial } from '../policy/access-policy.js'
import { bearerToken } from '../policy/authenticator.js'
import type { BrokerEnv } from './env.js'
import { ApiError } from './errors.js'

// The /v1 face of the access policy (src/policy/access-policy.ts): its denials as the error
// envelope, and the middleware a route declares. A route that takes an appid declares
// `appScoped(policy, scope)`: the key and scope are checked first (401/403), a malformed appid is
// left to the route's validator (400), then the client's right to the app (403) before the app's
// existence (404 from the engine), so errors reveal nothing about other clients or apps.

const DENIALS: Record<Denial, (scope: Scope) => ApiError> = {
  missing_key: () =>
    new ApiError(
      401,
      'unauthorized',
      'missing bearer key; send Authorization: Bearer <client key>'
    ),
  unknown_key: () => new ApiError(401, 'unauthorized', 'unknown client key'),
  missing_scope: (scope) =>
    new ApiError(403, 'forbidden', `this key does not have the ${scope} scope`),
  app_not_allowed: () => new ApiError(403, 'forbidden', 'this key is not allowed to use this app'),
}

export function denialError(denial: Denial, scope: Scope): ApiError {
  return DENIALS[denial](scope)
}

/** 401 unless a known bearer key is presented; 403 unless its client holds `scope`. */
export function requireScope(policy: AccessPolicy, scope: Scope): MiddlewareHandler<BrokerEnv> {
  return async (c, next) => {
    const decision = policy.client(bearerToken(c.req.header('authorization')), scope)
    if (decision.client) c.set('client', decision.client)
    if (!decision.ok) throw denialError(decision.denial, scope)
    await next()
  }
}

/** The middleware of every route under /v1/apps/{appid}: the key, the scope, then the app. */
export function appScoped(
  policy: AccessPolicy,
  scope: Scope
): [MiddlewareHandler<BrokerEnv>, MiddlewareHandler<BrokerEnv>] {
  const app: MiddlewareHandler<BrokerEnv> = async (c, next) => {
    const appid = c.req.param('appid')
    const client = c.get('client')
    // A malformed appid is the validator's 400; only a well-formed one is checked and counted.
    if (client && appid !== undefined && APPID_PATTERN.test(appid)) {
      const decision = policy.app(client, appid, scope)
      if (!decision.ok) throw denialError(decision.denial, scope)
    }
    await next()
  }
  return [requireScope(policy, scope), app]
}
