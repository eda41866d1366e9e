import type { IncomingMessage, ServerResponse } from 'node:http'
import type { ServedToken } from '../engine/types.js'
import { APPID_PATTERN } from '../config/schema.js'
import { bearerToken } from '../policy/authenticator.js'
import type { RouteDeps } from './deps.js'
import { resolveRequestId } from './request-id.js'
import type { RecordRequest } from './request-record.js'
import { tokenJson } from './schemas.js'

import { ROUTES } from './routes/paths.js'

/** The one route the hot path serves, as Hono names it (the access log and metrics label). */
export const TOKEN_ROUTE = ROUTES.token
/** That route with a well-formed appid, built from the route name and the one appid pattern. */
const TOKEN_PATH = new RegExp(
  `^${TOKEN_ROUTE.replace('{appid}', `(${APPID_PATTERN.source.replace(/^\^|\$$/g, '')})`)}$`
)

/** Returns true when it answered the request; false leaves it, untouched, to the Hono app. */
export type FastPath = (req: IncomingMessage, res: ServerResponse) => boolean

/**
 * The token GET is nearly all of a broker's traffic, and Hono's routing, zod validation and
 * middleware chain cost more than the rest of the request (docs/benchmarks.md). This handler sits
 * in front of the Hono app on the same server and answers only the plain success case: a GET of
 * exactly `/v1/apps/{appid}/token` by a known key with the token:read scope and this app, while
 * the engine holds a token it can serve at once. It gives the same response, access line and
 * metrics as the Hono route (test/http/token-fast-path.test.ts compares them). Everything else,
 * every error included, falls through to the Hono route, which stays the contract.
 */
export function tokenFastPath(deps: RouteDeps, record: RecordRequest): FastPath {
  const bodies = new Map<string, { token: ServedToken; body: string }>()
  // expires_in counts down each second: the serialized body is reused while it is unchanged.
  const bodyFor = (token: ServedToken): string => {
    const cached = bodies.get(token.appid)
    if (
      cached &&
      cached.token.accessToken === token.accessToken &&
      cached.token.expiresIn === token.expiresIn &&
      cached.token.expiresAt === token.expiresAt
    ) {
      return cached.body
    }
    const body = JSON.stringify(tokenJson(token))
    bodies.set(token.appid, { token, body })
    return body
  }

  return (req, res) => {
    const start = performance.now()
    if (req.method !== 'GET' || req.url === undefined) return false
    const appid = TOKEN_PATH.exec(req.url)?.[1]
    if (appid === undefined) return false
    const token = deps.engine.peekToken(appid)
    if (token === undefined) return false
    const decision = deps.policy.authorize(
      bearerToken(req.headers.authorization),
      'token:read',
      appid
    )
    if (!decision.ok) return false
    const client = decision.client

    const given = req.headers['x-request-id']
    const requestId = resolveRequestId(typeof given === 'string' ? given : undefined)
    const body = bodyFor(token)
    res.writeHead(200, {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      'x-request-id': requestId,
      'content-length': Buffer.byteLength(body),
    })
    res.end(body)
    record({
      route: TOKEN_ROUTE,
      method: 'GET',
      status: 200,
      start,
      client: client.name,
      requestId,
    })
    return true
  }
}
