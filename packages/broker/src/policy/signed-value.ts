import { createHmac } from 'node:crypto'
import type { ClientConfig } from '../config/load.js'
import type { AppConfig } from '../engine/types.js'
import { digestMatches } from './authenticator.js'

// Values the broker hands to one client and later takes back from it without keeping any state:
// the status page's sign-in cookie and the gateway's alias tokens. Every replica verifies them on
// its own. A value is `base64url(payload).base64url(mac)` with
//
//   payload = clientName "." field "." field ...
//   mac     = HMAC-SHA256(key, client.keyHash ‖ payload)
//   key     = HMAC-SHA256(purpose, every "appid\0secret\0", by appid)
//
// The client's key digest binds the value to the key it was issued for: rotating the key revokes
// every value issued to it. The app secrets, which only the broker's replicas hold, make it
// unforgeable: the key digests alone would not, since they sit in config files and repositories
// by design. The purpose separates the kinds: a sign-in cookie is never an alias token. Replicas
// with the same apps and clients accept each other's values; rotating an app secret revokes them
// all. The payload is signed, not encrypted: it must hold nothing the client may not read.

export interface SignedValues {
  /** The value for `client` carrying `fields` (each free of "."). */
  seal(client: ClientConfig, fields: readonly string[]): string
  /**
   * The client and the `fieldCount` fields of a value `seal` made for that client with this
   * purpose, apps and key; undefined for anything else (forged, malformed, of another purpose, or
   * of a client that is gone or has another key now).
   */
  open(value: string, fieldCount: number): { client: ClientConfig; fields: string[] } | undefined
}

export function signedValues(
  purpose: string,
  apps: readonly Pick<AppConfig, 'appid' | 'secret'>[],
  clients: readonly ClientConfig[],
  /** Longest value accepted: parse no more than a real one can be. */
  maxLength: number
): SignedValues {
  const derive = createHmac('sha256', purpose)
  for (const app of [...apps].sort((a, b) => (a.appid < b.appid ? -1 : 1))) {
    derive.update(`${app.appid}\0${app.secret}\0`)
  }
  const key = derive.digest()
  const mac = (client: ClientConfig, payload: string): Buffer =>
    createHmac('sha256', key).update(client.keyHash).update(payload).digest()
  const byName = new Map(clients.map((c) => [c.name, c]))

  return {
    seal(client, fields) {
      const payload = [client.name, ...fields].join('.')
      return `${Buffer.from(payload).toString('base64url')}.${mac(client, payload).toString('base64url')}`
    },
    open(value, fieldCount) {
      if (value.length > maxLength) return undefined
      const parts = value.split('.')
      if (parts.length !== 2) return undefined
      const [encoded = '', presented = ''] = parts
      const payload = Buffer.from(encoded, 'base64url').toString()
      // Client names may hold dots; the fields never do: they are counted from the end.
      const all = payload.split('.')
      if (all.length <= fieldCount) return undefined
      const fields = all.slice(all.length - fieldCount)
      const client = byName.get(all.slice(0, all.length - fieldCount).join('.'))
      if (!client) return undefined
      if (!digestMatches(Buffer.from(presented, 'base64url'), mac(client, payload)))
        return undefined
      return { client, fields }
    },
  }
}
