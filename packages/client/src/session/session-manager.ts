import { createHash, randomBytes } from 'node:crypto'
import { systemClock, type Clock } from '../clock.js'
import { decryptUserData, type Watermark } from '../crypto/user-data.js'
import { InvalidInputError, SessionNotFoundError } from '../errors.js'
import type { CallOptions } from '../http.js'
import type { Code2SessionResult } from '../token-provider.js'
import { optionalPositiveInt, requireString } from '../validate.js'
import { MemorySessionStore, type SessionRecord, type SessionStore } from './session-store.js'

/** What SessionManager needs from a client: a MiniProgramClient fits. */
export interface SessionClient {
  readonly appid: string
  readonly auth: {
    code2Session(jsCode: string, options?: CallOptions): Promise<Code2SessionResult>
    checkSessionKey(
      params: { openid: string; sessionKey: string },
      options?: CallOptions
    ): Promise<boolean>
  }
}

export interface SessionManagerOptions {
  client: SessionClient
  /** Default: an in-memory store (one instance only). Use RedisSessionStore across replicas. */
  store?: SessionStore
  /** How long a session lives, in seconds. Default 86400 (one day). */
  ttlSeconds?: number
  clock?: Clock
}

/** A session as the caller sees it: never the session_key. */
export interface SessionInfo {
  openid: string
  unionid?: string
  createdAt: number
}

export interface LoginResult {
  /** Opaque, random (256 bits), URL-safe: give it to the Mini Program front end. */
  sessionId: string
  openid: string
  unionid?: string
  /** When the session expires, in epoch milliseconds. */
  expiresAt: number
}

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/

/**
 * Turns a `wx.login` code into an opaque session id for the front end, keeping openid, unionid
 * and session_key server-side. It uses the session_key for the caller (decrypt, check) but
 * never returns it.
 */
export class SessionManager {
  readonly #client: SessionClient
  readonly #store: SessionStore
  readonly #ttlMs: number
  readonly #clock: Clock

  constructor(options: SessionManagerOptions) {
    if (typeof options?.client?.auth?.code2Session !== 'function') {
      throw new InvalidInputError('client', 'pass a MiniProgramClient (it needs auth.code2Session)')
    }
    this.#client = options.client
    this.#clock = options.clock ?? systemClock
    this.#store = options.store ?? new MemorySessionStore({ clock: this.#clock })
    this.#ttlMs = optionalPositiveInt('ttlSeconds', options.ttlSeconds, 86_400) * 1000
  }

  /** Exchanges the code (through the broker) and opens a session. */
  async login(jsCode: string, options?: CallOptions): Promise<LoginResult> {
    requireString('jsCode', jsCode, 'the code from wx.login()')
    const session = await this.#client.auth.code2Session(jsCode, options)
    const sessionId = randomBytes(32).toString('base64url')
    const createdAt = this.#clock()
    const record: SessionRecord = {
      openid: session.openid,
      session_key: session.session_key,
      createdAt,
      ...(session.unionid === undefined ? {} : { unionid: session.unionid }),
    }
    await this.#store.set(storeKey(sessionId), record, this.#ttlMs)
    return {
      sessionId,
      openid: record.openid,
      ...(record.unionid === undefined ? {} : { unionid: record.unionid }),
      expiresAt: createdAt + this.#ttlMs,
    }
  }

  /** The session's user, or undefined when the id is unknown, expired or malformed. */
  async get(sessionId: string): Promise<SessionInfo | undefined> {
    const record = await this.#record(sessionId)
    if (record === undefined) return undefined
    return {
      openid: record.openid,
      ...(record.unionid === undefined ? {} : { unionid: record.unionid }),
      createdAt: record.createdAt,
    }
  }

  async destroy(sessionId: string): Promise<void> {
    if (SESSION_ID.test(sessionId)) await this.#store.delete(storeKey(sessionId))
  }

  /** Decrypts `encryptedData` from the front end with this session's key (watermark checked). */
  async decrypt<T extends object = Record<string, unknown>>(
    sessionId: string,
    encryptedData: string,
    iv: string
  ): Promise<T & { watermark: Watermark }> {
    const record = await this.#required(sessionId)
    return decryptUserData<T>(record.session_key, encryptedData, iv, { appid: this.#client.appid })
  }

  /** Asks WeChat whether this session's key is still the user's current one. */
  async checkSessionKey(sessionId: string, options?: CallOptions): Promise<boolean> {
    const record = await this.#required(sessionId)
    return this.#client.auth.checkSessionKey(
      { openid: record.openid, sessionKey: record.session_key },
      options
    )
  }

  async #record(sessionId: string): Promise<SessionRecord | undefined> {
    if (typeof sessionId !== 'string' || !SESSION_ID.test(sessionId)) return undefined
    return this.#store.get(storeKey(sessionId))
  }

  async #required(sessionId: string): Promise<SessionRecord> {
    const record = await this.#record(sessionId)
    if (record === undefined) throw new SessionNotFoundError()
    return record
  }
}

/** Stores are keyed by a hash of the id, so a store dump yields no usable session ids. */
function storeKey(sessionId: string): string {
  return createHash('sha256').update(sessionId).digest('base64url')
}
