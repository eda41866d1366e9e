import { randomBytes as nodeRandomBytes } from 'node:crypto'
import { DecryptError, InvalidInputError } from '../errors.js'
import { isRecord } from '../http.js'
import { aesCbcDecrypt, aesCbcEncrypt } from './aes-cbc.js'
import { decodeBase64 } from './base64.js'
import { hexEqual, signedText, sortedSha1, verifySignature } from './signature.js'
import { decryptedText } from './utf8.js'
import { buildXml, parseXml } from './xml.js'

export interface MessageCryptoOptions {
  /** The message-push Token from the admin console. */
  token: string
  /** The 43-character EncodingAESKey from the admin console. */
  encodingAESKey: string
  /** Your appid: encrypted messages end with it, and it is checked. */
  appid: string
  /** The key before a rotation: tried when the current one fails, as WeChat advises. */
  previousEncodingAESKey?: string
  /** Source of the 16 random prefix bytes; inject fixed bytes only in tests. */
  randomBytes?: (size: number) => Uint8Array
}

export type MessageFormat = 'json' | 'xml'

/** Query parameters of a safe-mode push. */
export interface PushQuery {
  msg_signature: string
  timestamp: string | number
  nonce: string | number
}

/** Query parameters of the URL-verification GET. */
export interface VerifyUrlQuery {
  signature: string
  timestamp: string | number
  nonce: string | number
  echostr: string
}

export interface DecryptedMessage {
  format: MessageFormat
  /** The decrypted message text. */
  plaintext: string
  /** The message parsed: JSON as is, XML as a record of strings. */
  message: Record<string, unknown>
}

export interface EncryptReplyOptions {
  timestamp: string | number
  /** Echo the request's nonce. */
  nonce: string | number
  format: MessageFormat
}

interface AesKey {
  key: Buffer
  iv: Buffer
}

function aesKey(field: string, encodingAESKey: unknown): AesKey {
  if (typeof encodingAESKey !== 'string' || !/^[A-Za-z0-9]{43}$/.test(encodingAESKey)) {
    throw new InvalidInputError(
      field,
      'must be the 43-character EncodingAESKey (letters and digits)'
    )
  }
  const key = Buffer.from(`${encodingAESKey}=`, 'base64')
  return { key, iv: key.subarray(0, 16) }
}

const BLOCK = 32

/**
 * WeChat message-push encryption (safe mode): AES-256-CBC, IV = key[0..16], PKCS#7 with 32-byte
 * blocks, `random(16) + msg_len(4, big-endian) + msg + appid`, signed with `msg_signature`.
 * Handles JSON and XML bodies both ways.
 */
export class MessageCrypto {
  readonly #token: string
  readonly #appidBytes: Buffer
  readonly #keys: AesKey[]
  readonly #random: (size: number) => Uint8Array

  constructor(options: MessageCryptoOptions) {
    if (typeof options?.token !== 'string' || options.token === '') {
      throw new InvalidInputError('token', 'must be the message-push Token from the admin console')
    }
    if (typeof options.appid !== 'string' || options.appid === '') {
      throw new InvalidInputError('appid', 'must be your appid, e.g. "wx0123456789abcdef"')
    }
    this.#token = options.token
    this.#appidBytes = Buffer.from(options.appid, 'utf8')
    this.#keys = [aesKey('encodingAESKey', options.encodingAESKey)]
    if (options.previousEncodingAESKey !== undefined) {
      this.#keys.push(aesKey('previousEncodingAESKey', options.previousEncodingAESKey))
    }
    if (options.randomBytes !== undefined && typeof options.randomBytes !== 'function') {
      throw new InvalidInputError('randomBytes', 'must be a function (size) => Uint8Array')
    }
    this.#random = options.randomBytes ?? nodeRandomBytes
  }

  /** Answers WeChat's URL-verification GET: returns `echostr` to send back verbatim. */
  verifyUrl(query: VerifyUrlQuery): string {
    requireQuery(query)
    const ok = verifySignature({
      token: this.#token,
      signature: query.signature,
      timestamp: query.timestamp,
      nonce: query.nonce,
    })
    if (!ok) throw new DecryptError('signature_mismatch', 'signature does not match the Token')
    if (typeof query.echostr !== 'string') {
      throw new DecryptError('missing_field', 'the query has no echostr to send back')
    }
    return query.echostr
  }

  /** `msg_signature = sha1(sort([token, timestamp, nonce, encrypt]))`. */
  signature(timestamp: string | number, nonce: string | number, encrypt: string): string {
    const t = signedArgument('timestamp', timestamp)
    const n = signedArgument('nonce', nonce)
    return sortedSha1(this.#token, t, n, encrypt)
  }

  /** Encrypts a message into WeChat's base64 `Encrypt` value. */
  encrypt(plaintext: string): string {
    const random = this.#random(16)
    if (!(random instanceof Uint8Array) || random.length !== 16) {
      throw new InvalidInputError('randomBytes', 'must return exactly the 16 bytes asked for')
    }
    const msg = Buffer.from(plaintext, 'utf8')
    const length = Buffer.alloc(4)
    length.writeUInt32BE(msg.length)
    const full = Buffer.concat([random, length, msg, this.#appidBytes])
    const { key, iv } = this.#keys[0]!
    return aesCbcEncrypt(key, iv, full, BLOCK).toString('base64')
  }

  /** Decrypts an `Encrypt` value, trying the previous key after the current one. */
  decrypt(encrypt: string): string {
    const ciphertext = decodeBase64('Encrypt', encrypt)
    let firstError: unknown
    for (const key of this.#keys) {
      try {
        return this.#open(key, ciphertext)
      } catch (error) {
        firstError ??= error
      }
    }
    throw firstError
  }

  /**
   * Verifies and decrypts a safe-mode push: `body` is the raw request body (JSON or XML) or an
   * already-parsed JSON object. Checks `msg_signature` before decrypting.
   */
  decryptMessage(query: PushQuery, body: string | Record<string, unknown>): DecryptedMessage {
    requireQuery(query)
    let outer: { format: MessageFormat; fields: Record<string, unknown> }
    if (typeof body === 'string') outer = parseBody(body)
    else if (isRecord(body) && !ArrayBuffer.isView(body)) outer = { format: 'json', fields: body }
    else {
      throw new InvalidInputError(
        'body',
        'must be the raw request body as a string (decode a Buffer first), or the parsed JSON object'
      )
    }
    const encrypt = outer.fields.Encrypt
    if (typeof encrypt !== 'string' || encrypt === '') {
      throw new DecryptError('missing_field', 'the body has no Encrypt field (is safe mode on?)')
    }
    const timestamp = signedText(query.timestamp)
    const nonce = signedText(query.nonce)
    if (timestamp === undefined || nonce === undefined) {
      throw new DecryptError('missing_field', 'the query needs one timestamp and one nonce')
    }
    const expected = this.signature(timestamp, nonce, encrypt)
    if (typeof query.msg_signature !== 'string' || !hexEqual(expected, query.msg_signature)) {
      throw new DecryptError(
        'signature_mismatch',
        'msg_signature does not match the Token and Encrypt'
      )
    }
    const plaintext = this.decrypt(encrypt)
    const inner = parseBody(plaintext)
    return { format: inner.format, plaintext, message: inner.fields }
  }

  /**
   * Encrypts a reply and wraps it as WeChat expects (`Encrypt`, `MsgSignature`, `TimeStamp`,
   * `Nonce`). An object reply is serialised in the given format.
   */
  encryptReply(
    reply: string | Record<string, string | number>,
    options: EncryptReplyOptions
  ): string {
    const format = options?.format
    if (format !== 'json' && format !== 'xml') {
      throw new InvalidInputError('format', 'must be "json" or "xml", as the push came')
    }
    // Signed as the body carries it: WeChat checks MsgSignature against TimeStamp and Nonce.
    const timestamp = unixSeconds(options.timestamp)
    const nonce = signedArgument('nonce', options.nonce)
    const plaintext =
      typeof reply === 'string'
        ? reply
        : format === 'json'
          ? JSON.stringify(reply)
          : buildXml(reply)
    const encrypt = this.encrypt(plaintext)
    const signature = this.signature(timestamp, nonce, encrypt)
    if (format === 'json') {
      return JSON.stringify({
        Encrypt: encrypt,
        MsgSignature: signature,
        TimeStamp: timestamp,
        Nonce: nonce,
      })
    }
    return buildXml({
      Encrypt: encrypt,
      MsgSignature: signature,
      TimeStamp: timestamp,
      Nonce: nonce,
    })
  }

  #open({ key, iv }: AesKey, ciphertext: Buffer): string {
    const full = aesCbcDecrypt(key, iv, ciphertext, BLOCK)
    if (full.length < 20) throw new DecryptError('invalid_plaintext', 'the message is too short')
    const length = full.readUInt32BE(16)
    if (20 + length > full.length) {
      throw new DecryptError('invalid_plaintext', 'the message length field is out of range')
    }
    // Compared as bytes: decoding first would let invalid UTF-8 pass as U+FFFD.
    if (!full.subarray(20 + length).equals(this.#appidBytes)) {
      throw new DecryptError('appid_mismatch', 'the message is not for this appid')
    }
    return decryptedText(full.subarray(20, 20 + length), 'the message')
  }
}

/** A timestamp or nonce the caller passed, as it is signed. */
function signedArgument(field: string, value: unknown): string {
  const text = signedText(value)
  if (text === undefined) throw new InvalidInputError(field, 'must be a string or a number')
  return text
}

function requireQuery(query: unknown): void {
  if (!isRecord(query)) {
    throw new InvalidInputError('query', 'must be the request query parameters as an object')
  }
}

/** A Unix time in whole seconds, as a number or as the digits a query string carries. */
function unixSeconds(value: unknown): number {
  const seconds = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : value
  if (typeof seconds !== 'number' || !Number.isSafeInteger(seconds) || seconds < 0) {
    throw new InvalidInputError(
      'timestamp',
      'must be a Unix time in whole seconds, e.g. 1714112445'
    )
  }
  return seconds
}

function parseBody(text: string): { format: MessageFormat; fields: Record<string, unknown> } {
  if (text.trimStart().startsWith('<')) return { format: 'xml', fields: parseXml(text) }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    throw new DecryptError('invalid_plaintext', 'the body is neither JSON nor XML')
  }
  if (!isRecord(json)) throw new DecryptError('invalid_plaintext', 'the JSON body is not an object')
  return { format: 'json', fields: json }
}
