import type { HttpBindings } from '@hono/node-server'
import { getConnInfo } from '@hono/node-server/conninfo'
import type { Context, Hono } from 'hono'
import { WxError } from '../errors.js'
import type { AppConfig } from '../state/apps.js'
import type { SimState } from '../state/sim-state.js'

export interface SimEnv {
  Bindings: HttpBindings
  Variables: {
    /** The app the call belongs to, for the call log. */
    appid: string
    /** The errcode answered, for the call log. */
    errcode: number
  }
}

export type SimContext = Context<SimEnv>
export type SimApp = Hono<SimEnv>

/** WeChat's JSON Content-Type (note `encoding=`, not `charset=`). */
export const WECHAT_JSON = 'application/json; encoding=utf-8'

/** Sends a WeChat JSON body (HTTP 200) and notes its errcode for the call log. */
export function wxJson(c: SimContext, body: Record<string, unknown>): Response {
  c.set('errcode', typeof body.errcode === 'number' ? body.errcode : 0)
  return c.body(JSON.stringify(body), 200, { 'Content-Type': WECHAT_JSON })
}

export function ok(c: SimContext, fields: Record<string, unknown> = {}): Response {
  return wxJson(c, { errcode: 0, errmsg: 'ok', ...fields })
}

export function requirePost(c: SimContext): void {
  if (c.req.method !== 'POST') throw new WxError(43002)
}

export interface ReadJsonOptions {
  /** The errcode for a body that is not a JSON object (default 47001 data format error). */
  invalid?: number
  /** Treat an empty body as `{}` (parameters may come in the query instead). */
  allowEmpty?: boolean
}

/**
 * Reads a WeChat POST body: JSON only. Empty → 44002 (or the `invalid` errcode when one is
 * given, as the code endpoints report it); not a JSON object → `invalid`.
 */
export async function readJson(
  c: SimContext,
  { invalid = 47001, allowEmpty = false }: ReadJsonOptions = {}
): Promise<Record<string, unknown>> {
  const text = await c.req.text()
  if (text.trim() === '') {
    if (allowEmpty) return {}
    throw new WxError(invalid === 47001 ? 44002 : invalid)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new WxError(invalid)
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new WxError(invalid)
  return parsed as Record<string, unknown>
}

/**
 * A token-authenticated JSON POST endpoint: 43002 for other methods, then the access-token
 * check, then the body (see `readJson`), then `handler`.
 */
export function tokenPost(
  app: SimApp,
  state: SimState,
  path: string,
  handler: (c: SimContext, config: AppConfig, body: Record<string, unknown>) => Response,
  options?: ReadJsonOptions
): void {
  app.all(path, async (c) => {
    requirePost(c)
    const config = requireToken(c, state)
    return handler(c, config, await readJson(c, options))
  })
}

/** A string field, or undefined when absent or not a string. */
export function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined
}

/**
 * The access-token check every token-authenticated endpoint makes at the moment of the call:
 * only from the query string; missing → 41001, unknown or retired → 40001, expired → 42001.
 */
export function requireToken(c: SimContext, state: SimState): AppConfig {
  const token = c.req.query('access_token')
  if (token === undefined || token === '') throw new WxError(41001)
  const check = state.tokens.check(token, state.now())
  if (check.appid !== undefined) c.set('appid', check.appid)
  if (!check.valid) throw new WxError(check.errcode)
  const app = state.apps.get(check.appid!)
  // The app was re-registered away after reset; its tokens are gone with it.
  if (!app) throw new WxError(40001)
  return app
}

export interface Credentials {
  appid: string | undefined
  secret: string | undefined
  grantType?: { given: string | undefined; expected: string }
}

/** appid + secret (+ grant_type) validation shared by the endpoints that take the app secret. */
export function authenticateApp(c: SimContext, state: SimState, creds: Credentials): AppConfig {
  if (creds.appid) c.set('appid', creds.appid)
  if (creds.grantType && creds.grantType.given !== creds.grantType.expected)
    throw new WxError(40002)
  if (!creds.appid) throw new WxError(41002)
  if (!creds.secret) throw new WxError(41004)
  const app = state.apps.get(creds.appid)
  if (!app) throw new WxError(40013)
  if (app.secret !== creds.secret) throw new WxError(40125)
  return app
}

/** The token endpoints' IP allow-list, when the app has one: 40164 with the caller's address. */
export function checkIpAllowList(c: SimContext, app: AppConfig): void {
  if (app.ipAllowList === null) return
  const address = getConnInfo(c).remote.address ?? ''
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  if (app.ipAllowList.includes(v4) || app.ipAllowList.includes(address)) return
  const v6 = address.includes(':') ? address : `::ffff:${address}`
  throw new WxError(40164, `invalid ip ${v4} ipv6 ${v6}, not in whitelist`)
}
