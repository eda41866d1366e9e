import type { ClientConfig } from '../config/load.js'
import type { AppConfig } from '../engine/types.js'
import { signedValues } from '../policy/signed-value.js'

// The status page's sign-in (statusPage.requireAdmin): a browser cannot send a bearer key, so an
// admin key typed into a form buys a short-lived cookie. The cookie holds no key, only a value
// signed for the client (src/policy/signed-value.ts: bound to the client's key, unforgeable
// without the app secrets, verified by every replica on its own) carrying its expiry. Rotating the
// key, or taking the admin scope away, ends it.

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
  const values = signedValues('wxbroker status-page session', apps, clients, MAX_COOKIE_LENGTH)
  return {
    issue(client, now) {
      return values.seal(client, [String(Math.floor(now / 1000) + SESSION_TTL_SECONDS)])
    },
    verify(value, now) {
      if (value === undefined) return undefined
      const opened = values.open(value, 1)
      if (!opened) return undefined
      const [expiry = ''] = opened.fields
      if (!/^\d{1,12}$/.test(expiry)) return undefined
      if (Number(expiry) * 1000 <= now || !opened.client.scopes.has('admin')) return undefined
      return opened.client
    },
  }
}
