import { describe, expect, it } from 'vitest'
import { sha256, type ClientConfig } from '../config/load.js'
import { signedValues } from './signed-value.js'

const client = (name: string, key: string): ClientConfig => ({
  name,
  keyHash: sha256(key),
  apps: null,
  scopes: new Set(['token:read']),
})
const APPS = [
  { appid: 'wx00000000000000a2', secret: 'second-secret' },
  { appid: 'wx00000000000000a1', secret: 'first-secret' },
]
const ALICE = client('alice.svc', 'key-alice-000000000000000000001')
const BOB = client('bob', 'key-bob-0000000000000000000000002')

describe('signed values', () => {
  const values = signedValues('purpose A', APPS, [ALICE, BOB], 512)

  it('opens what it sealed, with client names that hold dots', () => {
    const sealed = values.seal(ALICE, ['wx00000000000000a1', '1700000000'])
    expect(values.open(sealed, 2)).toEqual({
      client: ALICE,
      fields: ['wx00000000000000a1', '1700000000'],
    })
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/)
  })

  it('every replica with the same apps and clients opens it, in any app order', () => {
    const sealed = values.seal(BOB, ['x'])
    const other = signedValues('purpose A', [...APPS].reverse(), [BOB, ALICE], 512)
    expect(other.open(sealed, 1)?.client).toBe(BOB)
  })

  it('refuses forged, altered, foreign and revoked values', () => {
    const sealed = values.seal(BOB, ['wx00000000000000a1', '1700000000'])
    const [payload, mac] = sealed.split('.') as [string, string]
    // Another client's name, another field, the same MAC.
    const swapped = Buffer.from('alice.svc.wx00000000000000a1.1700000000').toString('base64url')
    expect(values.open(`${swapped}.${mac}`, 2)).toBeUndefined()
    const later = Buffer.from('bob.wx00000000000000a1.1800000000').toString('base64url')
    expect(values.open(`${later}.${mac}`, 2)).toBeUndefined()
    expect(values.open(`${payload}.${'A'.repeat(43)}`, 2)).toBeUndefined()
    // Wrong field count, malformed, too long.
    expect(values.open(sealed, 3)).toBeUndefined()
    expect(values.open(`${sealed}.x`, 2)).toBeUndefined()
    expect(values.open('', 2)).toBeUndefined()
    expect(signedValues('purpose A', APPS, [BOB], 20).open(sealed, 2)).toBeUndefined()
    // Another purpose (a status cookie is no alias token), other app secrets, a rotated key.
    expect(signedValues('purpose B', APPS, [BOB], 512).open(sealed, 2)).toBeUndefined()
    const rotatedSecret = [{ ...APPS[0]!, secret: 'rotated' }, APPS[1]!]
    expect(signedValues('purpose A', rotatedSecret, [BOB], 512).open(sealed, 2)).toBeUndefined()
    const rekeyed = client('bob', 'key-bob-rotated-00000000000000002')
    expect(signedValues('purpose A', APPS, [rekeyed], 512).open(sealed, 2)).toBeUndefined()
    // A client that is gone.
    expect(signedValues('purpose A', APPS, [ALICE], 512).open(sealed, 2)).toBeUndefined()
  })
})
