import type { ClientConfig } from '../config/load.js'
import type { AppConfig } from '../engine/types.js'
import { signedValues } from '../policy/signed-value.js'
import { refusal, type Refusal } from './wechat-errors.js'

// Alias tokens (`tokenMode: alias`): what the gateway's token endpoints hand a client instead of
// the app's access_token, so that the real token never leaves the broker. An alias is
// `wxbt_` + a value signed for the client (src/policy/signed-value.ts) carrying the appid and the
// instant the real token it stands for stops being served: opaque to the SDK (it only works at
// the gateway, which swaps it for the app's current token), bound to the client's key (a new key
// revokes every alias of the old one), verified by every replica without shared state. It is
// signed, not encrypted: it names the client, the app and the expiry, which the client knows.
//
// For as long as the real token it was issued with is served, one client gets the same alias for
// it every time (the refetch guard counts fetches of an unchanged token).

export const ALIAS_PREFIX = 'wxbt_'
/** A 64-character client name, an appid and an expiry make about 190 characters. */
const MAX_ALIAS_LENGTH = 256

export type AliasCheck = { ok: true; client: ClientConfig; appid: string } | Refusal

export interface AliasTokens {
  /** The alias `client` gets for `appid`'s token, valid until `expiresAt` (ms): the expiry answered with it. */
  issue(client: ClientConfig, appid: string, expiresAt: number): string
  /**
   * Whom an alias was issued to, for which app; 40001 for one the broker did not issue (or
   * revoked: the key changed), 42001 once expired, as WeChat answers for its own tokens.
   * Undefined when `value` is not an alias at all.
   */
  check(value: string, now: number): AliasCheck | undefined
}

export function aliasTokens(
  apps: readonly Pick<AppConfig, 'appid' | 'secret'>[],
  clients: readonly ClientConfig[]
): AliasTokens {
  const values = signedValues('wxbroker gateway alias token', apps, clients, MAX_ALIAS_LENGTH)
  return {
    issue(client, appid, expiresAt) {
      return `${ALIAS_PREFIX}${values.seal(client, [appid, String(Math.floor(expiresAt / 1000))])}`
    },
    check(value, now) {
      if (!value.startsWith(ALIAS_PREFIX)) return undefined
      const opened = values.open(value.slice(ALIAS_PREFIX.length), 2)
      if (!opened)
        return refusal(40001, 'not an access_token this broker issued, or its key changed')
      const [appid = '', expiry = ''] = opened.fields
      if (!/^\d{1,12}$/.test(expiry)) return refusal(40001, 'a malformed alias token')
      if (Number(expiry) * 1000 <= now) return refusal(42001, 'the alias token expired')
      return { ok: true, client: opened.client, appid }
    },
  }
}
