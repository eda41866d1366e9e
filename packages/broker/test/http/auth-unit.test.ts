import { describe, expect, it } from 'vitest'
import { sha256, type ClientConfig } from '../../src/config/load.js'
import { Authenticator, bearerToken, clientMayUseApp } from '../../src/http/auth.js'

const client = (name: string, key: string, apps: string[] | null = null): ClientConfig => ({
  name,
  keyHash: sha256(key),
  apps: apps === null ? null : new Set(apps),
  scopes: new Set(['token:read']),
})

describe('bearer keys', () => {
  it('parses only well-formed Bearer headers', () => {
    expect(bearerToken('Bearer abc')).toBe('abc')
    expect(bearerToken('bearer   abc  ')).toBe('abc')
    expect(bearerToken(undefined)).toBeUndefined()
    expect(bearerToken('Basic abc')).toBeUndefined()
    expect(bearerToken('Bearer')).toBeUndefined()
    expect(bearerToken('Bearer a b')).toBeUndefined()
  })

  it('identifies a client by the SHA-256 of its key, and nobody for other keys', () => {
    const auth = new Authenticator([
      client('a', 'key-a-000000000000'),
      client('b', 'key-b-000000000000'),
    ])
    expect(auth.identify('key-b-000000000000')?.name).toBe('b')
    expect(auth.identify('key-a-000000000000')?.name).toBe('a')
    expect(auth.identify('key-c-000000000000')).toBeUndefined()
    expect(auth.identify('')).toBeUndefined()
    // The stored digest itself is not a key.
    expect(auth.identify(sha256('key-a-000000000000').toString('hex'))).toBeUndefined()
  })

  it('remembers only keys that matched: unknown keys are hashed every time', () => {
    const clients = [client('a', 'key-a-000000000000')]
    const auth = new Authenticator(clients)
    const known = (auth as unknown as { known: Map<string, ClientConfig> }).known
    for (let i = 0; i < 3; i++) {
      expect(auth.identify('key-a-000000000000')).toBe(clients[0])
      expect(auth.identify('key-a-000000000001')).toBeUndefined()
      expect(auth.identify(`unknown-${i}`)).toBeUndefined()
    }
    expect([...known.keys()]).toEqual(['key-a-000000000000'])
  })

  it('checks app lists, with null meaning every app', () => {
    expect(clientMayUseApp(client('a', 'k', ['wx00000000000000a1']), 'wx00000000000000a1')).toBe(
      true
    )
    expect(clientMayUseApp(client('a', 'k', ['wx00000000000000a1']), 'wx00000000000000a2')).toBe(
      false
    )
    expect(clientMayUseApp(client('a', 'k', null), 'wx00000000000000a2')).toBe(true)
  })
})
