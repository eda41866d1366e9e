import { describe, expect, it } from 'vitest'
import { sha256, type ClientConfig } from '../config/load.js'
import type { Scope } from '../config/schema.js'
import { AccessPolicy, type Decision } from './access-policy.js'
import { Authenticator, bearerToken } from './authenticator.js'

const client = (
  name: string,
  key: string,
  apps: string[] | null = null,
  scopes: Scope[] = ['token:read']
): ClientConfig => ({
  name,
  keyHash: sha256(key),
  apps: apps === null ? null : new Set(apps),
  scopes: new Set(scopes),
})

const noCount = (): void => undefined
const mayUse = (c: ClientConfig, appid: string): boolean =>
  new AccessPolicy(new Authenticator([c]), noCount).mayUse(c, appid)

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
    expect(mayUse(client('a', 'k', ['wx00000000000000a1']), 'wx00000000000000a1')).toBe(true)
    expect(mayUse(client('a', 'k', ['wx00000000000000a1']), 'wx00000000000000a2')).toBe(false)
    expect(mayUse(client('a', 'k', null), 'wx00000000000000a2')).toBe(true)
  })
})

describe('the access policy: key, scope and app, for every surface', () => {
  const A1 = 'wx00000000000000a1'
  const A2 = 'wx00000000000000a2'
  const clients = [
    client('reader', 'key-reader-00000000', [A1], ['token:read']),
    client('everywhere', 'key-everywhere-0000', null, ['token:read', 'login']),
    client('admin', 'key-admin-000000000', [A2], ['admin']),
  ]

  // Every key (and none) against every scope and app: what the hot path, the /v1 routes and the
  // gateway are told, and which uses are counted.
  it('decides the whole matrix and counts only authorized uses', () => {
    const counted: string[] = []
    const policy = new AccessPolicy(new Authenticator(clients), (c, a, s) =>
      counted.push(`${c} ${a} ${s}`)
    )
    const keys = [undefined, 'key-unknown-0000000', ...clients.map((_, i) => `#${i}`)]
    const keyOf = (k: string | undefined): string | undefined =>
      k?.startsWith('#')
        ? ['key-reader-00000000', 'key-everywhere-0000', 'key-admin-000000000'][Number(k.slice(1))]
        : k
    const table: string[] = []
    for (const k of keys) {
      for (const scope of ['token:read', 'login', 'admin'] as Scope[]) {
        for (const appid of [A1, A2]) {
          const d: Decision = policy.authorize(keyOf(k), scope, appid)
          table.push(
            `${k ?? '-'} ${scope} ${appid.slice(-2)} ${d.ok ? `ok:${d.client.name}` : d.denial}`
          )
        }
      }
    }
    expect(table).toEqual([
      '- token:read a1 missing_key',
      '- token:read a2 missing_key',
      '- login a1 missing_key',
      '- login a2 missing_key',
      '- admin a1 missing_key',
      '- admin a2 missing_key',
      'key-unknown-0000000 token:read a1 unknown_key',
      'key-unknown-0000000 token:read a2 unknown_key',
      'key-unknown-0000000 login a1 unknown_key',
      'key-unknown-0000000 login a2 unknown_key',
      'key-unknown-0000000 admin a1 unknown_key',
      'key-unknown-0000000 admin a2 unknown_key',
      '#0 token:read a1 ok:reader',
      '#0 token:read a2 app_not_allowed',
      '#0 login a1 missing_scope',
      '#0 login a2 missing_scope',
      '#0 admin a1 missing_scope',
      '#0 admin a2 missing_scope',
      '#1 token:read a1 ok:everywhere',
      '#1 token:read a2 ok:everywhere',
      '#1 login a1 ok:everywhere',
      '#1 login a2 ok:everywhere',
      '#1 admin a1 missing_scope',
      '#1 admin a2 missing_scope',
      '#2 token:read a1 missing_scope',
      '#2 token:read a2 missing_scope',
      '#2 login a1 missing_scope',
      '#2 login a2 missing_scope',
      '#2 admin a1 app_not_allowed',
      '#2 admin a2 ok:admin',
    ])
    expect(counted).toEqual([
      `reader ${A1} token:read`,
      `everywhere ${A1} token:read`,
      `everywhere ${A2} token:read`,
      `everywhere ${A1} login`,
      `everywhere ${A2} login`,
      `admin ${A2} admin`,
    ])
  })

  it('a denial for a scope still names the client (the access line shows who was refused)', () => {
    const policy = new AccessPolicy(new Authenticator(clients), noCount)
    const d = policy.client('key-reader-00000000', 'admin')
    expect(d).toMatchObject({ ok: false, denial: 'missing_scope', client: { name: 'reader' } })
  })
})
