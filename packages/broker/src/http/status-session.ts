import { createHmac } from 'node:crypto'
import type { ClientConfig } from '../config/load.js'
import type { AppConfig } from '../engine/types.js'
import { digestMatches } from '../policy/authenticator.js'

// The status page's sign-in (statusPage.requireAdmin): a browser cannot send a bearer key, so an
// admin key typed into a form buys a short-lived cookie. The cookie holds no key, only
// `base64url(clientName.expiry).base64url(mac)`, and every replica verifies it on its own:
//
//   mac = HMAC-SHA256(sessionKey, client.keyHash ‖ "clientName.expiry")
//   sessionKey = HMAC-SHA256("wxbroker status-page session", every "appid\0secret\0", by appid)
//
// The client's key digest binds the cookie to the key it was issued for (rotating the key, or
// taking the admin scope away, ends it). The app secrets, which only the broker's replicas hold,
// make it unforgeable: the key digests alone would not, since they sit in config files and
// repositories by design. Replicas with the same apps and clients accept each other's cookies
// without shared state.

export const SESSION_COOKIE = 'wxb_status'
/** How long a sign-in lasts. */
export const SESSION_TTL_SECONDS = 12 * 3600
/** Far above any real cookie (a 64-character client name gives about 150): parse no more. */
const MAX_COOKIE_LENGTH = 512

export interface StatusSessions {
  /** The cookie value for a signed-in admin client, valid SESSION_TTL_SECONDS from `now` (ms). */
  issue(client: ClientConfig, now: number): string
  /** The admin client a cookie value was issued to, unless it is forged, expired or revoked. */
  verify(value: string | undefined, now: number): ClientConfig | undefined
}

export function statusSessions(
  apps: readonly Pick<AppConfig, 'appid' | 'secret'>[],
  clients: readonly ClientConfig[]
): StatusSessions {
  const derive = createHmac('sha256', 'wxbroker status-page session')
  for (const app of [...apps].sort((a, b) => (a.appid < b.appid ? -1 : 1))) {
    derive.update(`${app.appid}\0${app.secret}\0`)
  }
  const sessionKey = derive.digest()
  const mac = (client: ClientConfig, payload: string): Buffer =>
    createHmac('sha256', sessionKey).update(client.keyHash).update(payload).digest()
  const byName = new Map(clients.map((c) => [c.name, c]))

  return {
    issue(client, now) {
      const payload = `${client.name}.${Math.floor(now / 1000) + SESSION_TTL_SECONDS}`
      return `${Buffer.from(payload).toString('base64url')}.${mac(client, payload).toString('base64url')}`
    },
    verify(value, now) {
      if (value === undefined || value.length > MAX_COOKIE_LENGTH) return undefined
      const parts = value.split('.')
      if (parts.length !== 2) return undefined
      const [encoded = '', presented = ''] = parts
      const payload = Buffer.from(encoded, 'base64url').toString()
      const dot = payload.lastIndexOf('.')
      const expiry = payload.slice(dot + 1)
      const client = byName.get(payload.slice(0, Math.max(0, dot)))
      if (!client || !/^\d{1,12}$/.test(expiry)) return undefined
      if (!digestMatches(Buffer.from(presented, 'base64url'), mac(client, payload)))
        return undefined
      if (Number(expiry) * 1000 <= now || !client.scopes.has('admin')) return undefined
      return client
    },
  }
}
