import type { Context } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { ClientConfig } from '../../config/load.js'
import { requireScope } from '../access.js'
import { limitBody } from '../body-limit.js'
import type { BrokerApp, RouteDeps } from '../deps.js'
import type { BrokerEnv } from '../env.js'
import { noStore } from '../no-store.js'
import { renderLoginPage, renderStatusPage } from '../status-page.js'
import { SESSION_COOKIE, SESSION_TTL_SECONDS, statusSessions } from '../status-session.js'

/**
 * GET /status: absent when statusPage.enabled is false. With requireAdmin it takes an admin key,
 * either as a bearer header (tools; JSON errors as on /v1) or through the sign-in form at
 * /status/login, which sets a short-lived signed cookie (status-session.ts) for browsers.
 */
export function registerStatusPage(app: BrokerApp, deps: RouteDeps): void {
  const { enabled, requireAdmin, secureCookie } = deps.config.statusPage
  if (!enabled) return
  // A signed-in page, a sign-in answer and its Set-Cookie.
  app.use('/status', noStore)
  app.use('/status/*', noStore)

  const page = (c: Context<BrokerEnv>, client?: ClientConfig, signedIn = false) => {
    const statuses = deps.engine
      .status()
      .filter((s) => client === undefined || deps.policy.mayUse(client, s.appid))
    return c.html(
      renderStatusPage(
        statuses,
        deps.engine.readiness(),
        deps.now(),
        signedIn ? client?.name : undefined
      )
    )
  }
  if (!requireAdmin) {
    app.get('/status', (c) => page(c))
    return
  }

  const sessions = statusSessions(deps.config.apps, deps.config.clients)
  const bearer = requireScope(deps.policy, 'admin')
  const form = (c: Context<BrokerEnv>, status: ContentfulStatusCode, message?: string) =>
    c.html(renderLoginPage(message), status)
  const cookieOptions = (c: Context<BrokerEnv>) =>
    ({
      path: '/status',
      httpOnly: true,
      sameSite: 'Strict',
      secure: secureCookie || cameOverHttps(c),
    }) as const

  app.get('/status', async (c) => {
    if (c.req.header('authorization') !== undefined) {
      // Throws the usual 401/403 envelope for a missing, unknown or non-admin key.
      await bearer(c, () => Promise.resolve())
      return page(c, c.get('client'))
    }
    const cookie = getCookie(c, SESSION_COOKIE)
    const client = sessions.verify(cookie, deps.now())
    if (client) {
      c.set('client', client)
      return page(c, client, true)
    }
    if (cookie === undefined) return form(c, 401)
    deleteCookie(c, SESSION_COOKIE, cookieOptions(c))
    return form(c, 401, 'Your sign-in has ended or is no longer valid; sign in again.')
  })

  app.get('/status/login', (c) => form(c, 200))

  app.post('/status/login', limitBody(deps.config.http.bodyLimitBytes), async (c) => {
    if (!/^application\/x-www-form-urlencoded\b/i.test(c.req.header('content-type') ?? '')) {
      return form(c, 400, 'Send the form (application/x-www-form-urlencoded) with the key.')
    }
    // Keys hold no whitespace (as in a bearer header): a pasted newline is not part of one.
    const key = new URLSearchParams(await c.req.text()).get('key')?.trim() ?? ''
    if (key === '') return form(c, 400, 'Enter an admin client key.')
    const client = deps.auth.identify(key)
    if (!client) return form(c, 401, 'Unknown key.')
    c.set('client', client)
    if (!client.scopes.has('admin')) {
      return form(c, 403, 'This key does not have the admin scope.')
    }
    setCookie(c, SESSION_COOKIE, sessions.issue(client, deps.now()), {
      ...cookieOptions(c),
      maxAge: SESSION_TTL_SECONDS,
    })
    return c.redirect('/status', 303)
  })

  app.post('/status/logout', (c) => {
    deleteCookie(c, SESSION_COOKIE, cookieOptions(c))
    return c.redirect('/status', 303)
  })
}

/** Whether the browser talks HTTPS: directly, or as a TLS-terminating proxy says. */
function cameOverHttps(c: Context<BrokerEnv>): boolean {
  if (new URL(c.req.url).protocol === 'https:') return true
  const forwardedProto = c.req.header('x-forwarded-proto')?.split(',')[0]?.trim().toLowerCase()
  if (forwardedProto === 'https') return true
  return /(?:^|[;,\s])proto="?https"?(?:$|[;,\s])/i.test(c.req.header('forwarded') ?? '')
}
