import { startRedis } from '@wxbroker/testkit'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { userDataVector as UD } from '../../test/helpers/vectors.js'
import { DecryptError, InvalidInputError, SessionNotFoundError } from '../errors.js'
import type { Code2SessionResult } from '../token-provider.js'
import { RedisSessionStore } from './redis-session-store.js'
import { SessionManager, type SessionClient } from './session-manager.js'
import { MemorySessionStore, type SessionStore } from './session-store.js'

/** A SessionClient over a fixed table of login codes (the broker path is tested elsewhere). */
function codeTable(
  codes: Record<string, Code2SessionResult>
): SessionClient & { checked: string[] } {
  const checked: string[] = []
  return {
    appid: UD.appid,
    checked,
    auth: {
      code2Session: (code) => {
        const session = codes[code]
        return session
          ? Promise.resolve(session)
          : Promise.reject(new Error(`unknown code ${code}`))
      },
      checkSessionKey: ({ sessionKey }) => {
        checked.push(sessionKey)
        return Promise.resolve(sessionKey === UD.sessionKey)
      },
    },
  }
}

const codes = {
  c1: { openid: 'o-alice', session_key: UD.sessionKey, unionid: 'u-alice' },
  c2: { openid: 'o-bob', session_key: 'Ym9iLXNlc3Npb24ta2V5IQ==' },
}

function containsSessionKey(value: unknown): boolean {
  const text = JSON.stringify(value) ?? ''
  return (
    text.includes(UD.sessionKey) ||
    text.includes('session_key') ||
    text.includes(codes.c2.session_key)
  )
}

function sessionSuite(name: string, makeStore: () => SessionStore) {
  describe(`SessionManager with ${name}`, () => {
    it('logs in with an opaque 256-bit URL-safe id and never returns session_key', async () => {
      const manager = new SessionManager({ client: codeTable(codes), store: makeStore() })
      const login = await manager.login('c1')
      expect(login.sessionId).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(login).toMatchObject({ openid: 'o-alice', unionid: 'u-alice' })
      expect(containsSessionKey(login)).toBe(false)
      const info = await manager.get(login.sessionId)
      expect(info).toMatchObject({ openid: 'o-alice', unionid: 'u-alice' })
      expect(containsSessionKey(info)).toBe(false)
      const other = await manager.login('c1')
      expect(other.sessionId).not.toBe(login.sessionId)
    })

    it('omits unionid when WeChat sent none', async () => {
      const manager = new SessionManager({ client: codeTable(codes), store: makeStore() })
      const login = await manager.login('c2')
      expect('unionid' in login).toBe(false)
      expect('unionid' in ((await manager.get(login.sessionId)) ?? {})).toBe(false)
    })

    it('decrypts user data with the stored key and the appid watermark', async () => {
      const manager = new SessionManager({ client: codeTable(codes), store: makeStore() })
      const { sessionId } = await manager.login('c1')
      const data = await manager.decrypt<{ nickName: string }>(sessionId, UD.encryptedData, UD.iv)
      expect(data.nickName).toBe('Band')
      const bob = await manager.login('c2')
      await expect(manager.decrypt(bob.sessionId, UD.encryptedData, UD.iv)).rejects.toThrow(
        DecryptError
      )
    })

    it('checks the session key through the client without exposing it', async () => {
      const client = codeTable(codes)
      const manager = new SessionManager({ client, store: makeStore() })
      expect(await manager.checkSessionKey((await manager.login('c1')).sessionId)).toBe(true)
      expect(await manager.checkSessionKey((await manager.login('c2')).sessionId)).toBe(false)
      expect(client.checked).toEqual([UD.sessionKey, codes.c2.session_key])
    })

    it('destroys sessions, and treats unknown or malformed ids as no session', async () => {
      const manager = new SessionManager({ client: codeTable(codes), store: makeStore() })
      const { sessionId } = await manager.login('c1')
      await manager.destroy(sessionId)
      expect(await manager.get(sessionId)).toBeUndefined()
      await expect(manager.decrypt(sessionId, UD.encryptedData, UD.iv)).rejects.toThrow(
        SessionNotFoundError
      )
      expect(await manager.get('../../etc/passwd')).toBeUndefined()
      expect(await manager.get('A'.repeat(43))).toBeUndefined()
      await expect(manager.checkSessionKey('nope')).rejects.toThrow(SessionNotFoundError)
    })

    it('rejects an empty code before calling anything', async () => {
      const manager = new SessionManager({ client: codeTable(codes), store: makeStore() })
      await expect(manager.login('')).rejects.toThrow(InvalidInputError)
    })
  })
}

sessionSuite('the in-memory store', () => new MemorySessionStore())

describe('MemorySessionStore expiry (injected clock)', () => {
  it('expires sessions after ttlSeconds and sweeps them from memory', async () => {
    let now = 1_000_000
    const clock = (): number => now
    const store = new MemorySessionStore({ clock })
    const manager = new SessionManager({ client: codeTable(codes), store, ttlSeconds: 60, clock })
    const login = await manager.login('c1')
    expect(login.expiresAt).toBe(1_000_000 + 60_000)
    now += 59_999
    expect(await manager.get(login.sessionId)).toBeDefined()
    now += 1
    expect(await manager.get(login.sessionId)).toBeUndefined()
    await manager.login('c2')
    now += 60_000
    expect(store.size).toBe(0)
  })

  it('validates ttlSeconds', () => {
    expect(() => new SessionManager({ client: codeTable(codes), ttlSeconds: 0 })).toThrow(
      /ttlSeconds: must be a whole number > 0/
    )
  })
})

describe('RedisSessionStore (real redis-server)', () => {
  let redis: Awaited<ReturnType<typeof startRedis>>
  let client: Redis
  beforeAll(async () => {
    redis = await startRedis()
    client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  })
  afterAll(async () => {
    client.disconnect()
    await redis.stopAll()
  })

  sessionSuite(
    'the Redis store',
    () => new RedisSessionStore({ redis: client, keyPrefix: `t${Date.now()}:` })
  )

  it('keys records by a hash of the id, with a TTL set by SET PX, holding no session id', async () => {
    const prefix = 'ttl-test:'
    const manager = new SessionManager({
      client: codeTable(codes),
      store: new RedisSessionStore({ redis: client, keyPrefix: prefix }),
      ttlSeconds: 120,
    })
    const { sessionId } = await manager.login('c1')
    const keys = await client.keys(`${prefix}*`)
    expect(keys).toHaveLength(1)
    expect(keys[0]).not.toContain(sessionId)
    const ttl = await client.pttl(keys[0]!)
    expect(ttl).toBeGreaterThan(110_000)
    expect(ttl).toBeLessThanOrEqual(120_000)
    // Redis expires it: make the TTL short and watch it go.
    await client.pexpire(keys[0]!, 30)
    await new Promise((r) => setTimeout(r, 80))
    expect(await manager.get(sessionId)).toBeUndefined()
  })

  it('treats a value it did not write as no session', async () => {
    const store = new RedisSessionStore({ redis: client, keyPrefix: 'junk:' })
    await client.set('junk:k', 'not json')
    expect(await store.get('k')).toBeUndefined()
  })
})
