import { randomBytes } from 'node:crypto'
import { sha256 } from '../config/load.js'

/** A new random client key: 32 random bytes, base64url, with a recognisable prefix. */
export function generateKey(): string {
  return `wxb_${randomBytes(32).toString('base64url')}`
}

/** `wxbroker hash-key [KEY]`: prints the key (generated when none is given) and its SHA-256. */
export function hashKeyCommand(args: string[], out: (line: string) => void): number {
  if (args.length > 1) {
    out('usage: wxbroker hash-key [KEY]')
    return 2
  }
  const key = args[0] ?? generateKey()
  out(`key:       ${key}`)
  out(`keySha256: ${sha256(key).toString('hex')}`)
  if (args[0] === undefined) out('Give the key to the client; put only keySha256 in wxbroker.yaml.')
  return 0
}
