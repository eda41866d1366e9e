import type { ClientConfig } from '../config/load.js'
import type { ServedToken, TokenEngine } from '../engine/types.js'
import type { GatewayMetrics } from '../observability/gateway-metrics.js'
import type { AliasTokens } from './alias-tokens.js'
import type { GatewayAuth } from './gateway-auth.js'
import type { RefetchGuard } from './refetch-guard.js'
import { engineRefusal, refusal, type Refusal } from './wechat-errors.js'

// `GET /cgi-bin/token` and `POST /cgi-bin/stable_token`, answered from the engine and never
// forwarded (design §10): WeChat's exact success shape, `{"access_token","expires_in"}` with an
// integer expires_in (the token's safe remaining use, §3.3), whichever kind the broker manages.
// The client key comes in `secret` (or `Authorization: Bearer`). A stable-shaped answer never
// says less than 301 s: silenceper caches it for expires_in − 300. `force_refresh: true` is a
// report that the token is bad, never a blind force.

/** A stable_token answer keeps expires_in above WeChat's own 300-s renew window. */
export const STABLE_MIN_EXPIRES_IN = 301

export interface TokenFetch {
  stable: boolean
  grantType: string | undefined
  appid: string | undefined
  /** The client key: the `secret` field, else the bearer key. */
  key: string | undefined
  forceRefresh: boolean
}

export type TokenOutcome =
  | { ok: true; body: string; client: ClientConfig }
  | { ok: false; refusal: Refusal; client: ClientConfig | undefined }

export interface TokenEndpointDeps {
  engine: TokenEngine
  auth: GatewayAuth
  aliases: AliasTokens
  guard: RefetchGuard
  metrics: GatewayMetrics
}

/** The token request of a GET (or POST) /cgi-bin/token: its query parameters. */
export function classicFetch(query: URLSearchParams, bearer: string | undefined): TokenFetch {
  return {
    stable: false,
    grantType: query.get('grant_type') ?? undefined,
    appid: query.get('appid') || undefined,
    key: query.get('secret') || bearer,
    forceRefresh: false,
  }
}

/** The token request of a POST /cgi-bin/stable_token: its JSON body (any Content-Type). */
export function stableFetch(body: Buffer, bearer: string | undefined): TokenFetch | Refusal {
  const text = body.toString('utf8')
  if (text.trim() === '') return refusal(44002, 'send a JSON body')
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    return refusal(47001, 'the body is not JSON')
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    return refusal(47001, 'the body is not a JSON object')
  }
  const b = parsed as Record<string, unknown>
  const str = (v: unknown): string | undefined =>
    typeof v === 'string' && v !== '' ? v : undefined
  const force = b.force_refresh
  if (force !== undefined && typeof force !== 'boolean') {
    return refusal(47001, 'force_refresh must be true or false')
  }
  return {
    stable: true,
    grantType: typeof b.grant_type === 'string' ? b.grant_type : undefined,
    appid: str(b.appid),
    key: str(b.secret) ?? bearer,
    forceRefresh: force === true,
  }
}

export async function answerTokenFetch(
  deps: TokenEndpointDeps,
  fetch: TokenFetch,
  now: number
): Promise<TokenOutcome> {
  // WeChat's order: grant_type, appid, secret.
  const no = (r: Refusal, client?: ClientConfig): TokenOutcome => ({
    ok: false,
    refusal: r,
    client,
  })
  if (fetch.grantType !== 'client_credential') {
    return no(refusal(40002, 'grant_type must be client_credential'))
  }
  if (fetch.appid === undefined) return no(refusal(41002, 'send appid'))
  if (fetch.key === undefined) {
    return no(refusal(41004, 'send the client key in secret (or Authorization: Bearer)'))
  }
  const caller = deps.auth.key(fetch.key, fetch.appid)
  if (!('ok' in caller)) return no(caller)
  const client = caller.client as ClientConfig
  const appid = caller.appid
  const min = fetch.stable ? { minExpiresIn: STABLE_MIN_EXPIRES_IN } : {}
  let token: ServedToken
  try {
    token = fetch.forceRefresh
      ? await reportedToken(deps, client, appid, min)
      : await deps.engine.getToken(appid, min)
    const guarded = await guardRefetch(deps, client, appid, token)
    if (guarded === 'refused') {
      return no(
        refusal(
          45011,
          'this key keeps fetching a token WeChat says works; cache it for expires_in'
        ),
        client
      )
    }
    token = guarded
  } catch (error) {
    return no(engineRefusal(error), client)
  }
  const expiresIn = fetch.stable
    ? Math.max(STABLE_MIN_EXPIRES_IN, token.expiresIn)
    : token.expiresIn
  // What the caller was told: it may use the token until then (a stable-shaped answer may say
  // more than the engine's figure, never less).
  const until = Math.max(token.expiresAt, now + expiresIn * 1000)
  let accessToken = token.accessToken
  if (client.tokenMode === 'alias') accessToken = deps.aliases.issue(client, appid, until)
  else deps.auth.answered(token.accessToken, appid, until, now)
  return {
    ok: true,
    client,
    body: JSON.stringify({ access_token: accessToken, expires_in: expiresIn }),
  }
}

/**
 * force_refresh: the token this key was last served (or the current one) is reported only if
 * WeChat refuses it now; the report is the engine's compare-and-refresh with every guard (§3.4,
 * §3.6), this client as the reporter. Otherwise, and whatever the guards decide, the current token.
 */
async function reportedToken(
  deps: TokenEndpointDeps,
  client: ClientConfig,
  appid: string,
  min: { minExpiresIn?: number }
): Promise<ServedToken> {
  const reported =
    deps.guard.lastServed(client.name, appid) ?? (await deps.engine.getToken(appid)).accessToken
  if ((await deps.engine.checkToken(appid, reported)) === 'invalid') {
    return (await deps.engine.invalidate(appid, reported, undefined, client.name)).token
  }
  return deps.engine.getToken(appid, min)
}

/** The refetch-loop guard (refetch-guard.ts): the token to answer with, or refused (45011). */
async function guardRefetch(
  deps: TokenEndpointDeps,
  client: ClientConfig,
  appid: string,
  token: ServedToken
): Promise<ServedToken | 'refused'> {
  const decision = deps.guard.observe(client.name, appid, token.accessToken, token.expiresIn)
  if (decision === 'refuse') {
    deps.metrics.refetchGuard(client.name, appid, 'refused')
    return 'refused'
  }
  if (decision === 'serve') return token
  deps.metrics.refetchGuard(client.name, appid, 'checked')
  const verdict = await deps.engine.checkToken(appid, token.accessToken)
  deps.guard.checked(client.name, appid, token.accessToken, verdict)
  if (verdict !== 'invalid') return token
  const result = await deps.engine.invalidate(appid, token.accessToken, undefined, client.name)
  if (result.refreshed) deps.metrics.refetchGuard(client.name, appid, 'refreshed')
  return result.token
}
