import { createCipheriv, createDecipheriv, createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  deterministicVector as V3,
  plaintextPushVector,
  safeModeVector as V1,
  urlVerificationVector,
  userDataVector as UD,
} from '../../test/helpers/vectors.js'
import { DecryptError, InvalidInputError } from '../errors.js'
import { MessageCrypto, type MessageFormat } from './message-crypto.js'
import { verifySignature } from './signature.js'
import { decryptUserData } from './user-data.js'
import { buildXml, parseXml } from './xml.js'

/**
 * Property tests (issue #13, fuzzing): the crypto entry points on random, truncated and
 * bit-flipped input throw only DecryptError or InvalidInputError, return only what really
 * decrypts to a valid payload (checked against an oracle written from the spec with node:crypto,
 * wechat-api.md §9–§10), and round-trip what they produce. The oracles restate the spec here
 * on purpose instead of importing the library's helpers, so a bug the two share cannot pass.
 * Runs are bounded to keep the file at a few seconds.
 */

const RUNS = 300
const OPENSSL_TEXT = /error:[0-9a-f]{8}|EVP_|bad decrypt|wrong final block/i

type Outcome<T> = { ok: true; value: T } | { ok: false; error: DecryptError | InvalidInputError }

/** Runs `fn`; anything thrown other than the two documented types fails the property. */
function outcome<T>(fn: () => T, secrets: readonly unknown[] = []): Outcome<T> {
  try {
    return { ok: true, value: fn() }
  } catch (error) {
    if (!(error instanceof DecryptError || error instanceof InvalidInputError)) throw error
    expect(error.message).not.toMatch(OPENSSL_TEXT)
    for (const secret of secrets) {
      if (typeof secret === 'string' && secret.length >= 8) {
        expect(error.message).not.toContain(secret)
      }
    }
    return { ok: false, error }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function strictUtf8(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes)
  } catch {
    return undefined
  }
}

/** sha1 of the parts sorted by code unit and joined: both of WeChat's push signatures (§10). */
function sortedSha1Of(...parts: unknown[]): string {
  const sorted = parts.map(String).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  return createHash('sha1').update(sorted.join('')).digest('hex')
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const bytes = (min: number, max = min): fc.Arbitrary<Buffer> =>
  fc.uint8Array({ minLength: min, maxLength: max }).map((b) => Buffer.from(b))

const appidArb = fc.oneof(
  fc.constantFrom(UD.appid, V1.appid, V3.appid),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 20 })
)

const encodingAESKeyArb = fc.stringMatching(/^[A-Za-z0-9]{43}$/)

/** The ways a base64 value goes bad on its way to us. */
function mangledBase64(valid: string): fc.Arbitrary<string> {
  const raw = Buffer.from(valid, 'base64')
  const flipBit = (bit: number): string => {
    const copy = Buffer.from(raw)
    copy[bit >> 3]! ^= 1 << (bit & 7)
    return copy.toString('base64')
  }
  return fc.oneof(
    fc.constant(valid),
    fc.nat({ max: valid.length - 1 }).map((n) => valid.slice(0, n)),
    fc.nat({ max: raw.length - 1 }).map((n) => raw.subarray(0, n).toString('base64')),
    fc.nat({ max: raw.length * 8 - 1 }).map(flipBit),
    fc
      .tuple(fc.nat({ max: valid.length - 1 }), fc.string({ unit: 'binary-ascii', maxLength: 2 }))
      .map(([i, s]) => valid.slice(0, i) + s + valid.slice(i + 1)),
    fc.constant(valid.replace(/=+$/, '')),
    fc.constant(valid.replaceAll('+', '-').replaceAll('/', '_')),
    fc.constant(` ${valid}\n`),
    bytes(0, 80).map((b) => b.toString('base64')),
    fc.string({ unit: 'binary', maxLength: 64 })
  )
}

// ---------------------------------------------------------------------------------------------
// decryptUserData: AES-128-CBC, PKCS#7 (16), JSON with watermark.appid (wechat-api.md §9)

function sealUserData(key: Buffer, iv: Buffer, plaintext: Buffer): string {
  const cipher = createCipheriv('aes-128-cbc', key, iv)
  return Buffer.concat([cipher.update(plaintext), cipher.final()]).toString('base64')
}

type Verdict<T> = { ok: true; value: T } | { ok: false; reason: string }

/** What §9 says the payload is, from raw bytes: the parsed object, or why it is not one. */
function userDataOracle(
  key: Buffer,
  iv: Buffer,
  ciphertext: Buffer,
  appid: string
): Verdict<unknown> {
  let plain: Buffer
  try {
    const decipher = createDecipheriv('aes-128-cbc', key, iv)
    plain = Buffer.concat([decipher.update(ciphertext), decipher.final()])
  } catch {
    return { ok: false, reason: 'bad_padding' }
  }
  const text = strictUtf8(plain)
  let data: unknown
  try {
    data = JSON.parse(text ?? '\u0000')
  } catch {
    return { ok: false, reason: 'invalid_plaintext' }
  }
  if (!isObject(data)) return { ok: false, reason: 'invalid_plaintext' }
  const appidSeen = isObject(data.watermark) ? data.watermark.appid : undefined
  if (typeof appidSeen !== 'string') return { ok: false, reason: 'missing_watermark' }
  if (appidSeen !== appid) return { ok: false, reason: 'appid_mismatch' }
  return { ok: true, value: data }
}

interface UserDataCase {
  key: Buffer
  iv: Buffer
  appid: string
  payload: Record<string, unknown>
  sessionKey: string
  iv64: string
  encryptedData: string
}

const userDataCase: fc.Arbitrary<UserDataCase> = fc
  .record({
    key: bytes(16),
    iv: bytes(16),
    appid: appidArb,
    fields: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), {
      maxKeys: 6,
    }),
    timestamp: fc.nat(),
  })
  .map(({ key, iv, appid, fields, timestamp }) => {
    const payload = JSON.parse(
      JSON.stringify({ ...fields, watermark: { timestamp, appid } })
    ) as Record<string, unknown>
    return {
      key,
      iv,
      appid,
      payload,
      sessionKey: key.toString('base64'),
      iv64: iv.toString('base64'),
      encryptedData: sealUserData(key, iv, Buffer.from(JSON.stringify(payload))),
    }
  })

/** Plaintexts that decrypt cleanly but are not a payload for this appid, or only just are. */
function oddUserDataPlaintext(appid: string): fc.Arbitrary<Buffer> {
  const text = (value: unknown): Buffer => Buffer.from(JSON.stringify(value) ?? 'undefined')
  return fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s)),
    bytes(0, 48),
    fc.jsonValue({ maxDepth: 2 }).map(text),
    fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 1 })).map(text),
    fc.anything({ maxDepth: 1 }).map((watermark) => text({ watermark })),
    appidArb.map((other) => text({ watermark: { appid: other, timestamp: 1 } })),
    fc.constant(text([{ watermark: { appid } }])),
    // A valid payload with one byte made invalid UTF-8 inside a string value.
    fc.nat({ max: 9 }).map((i) => {
      const buf = text({ note: 'abcdefghij', watermark: { appid, timestamp: 1 } })
      buf[9 + i] = 0xff
      return buf
    })
  )
}

describe('fuzz: decryptUserData', () => {
  it('round-trips every valid payload', () => {
    fc.assert(
      fc.property(userDataCase, (c) => {
        const data = decryptUserData(c.sessionKey, c.encryptedData, c.iv64, { appid: c.appid })
        expect(data).toEqual(c.payload)
      }),
      { numRuns: RUNS }
    )
  })

  it('on truncated, bit-flipped or garbage base64 throws only DecryptError, and returns only a real payload', () => {
    const mangled = fc.oneof(userDataCase, fc.constant(official())).chain((c) =>
      fc.record({
        c: fc.constant(c),
        sessionKey: mangledBase64(c.sessionKey),
        iv: mangledBase64(c.iv64),
        data: mangledBase64(c.encryptedData),
      })
    )
    fc.assert(
      fc.property(mangled, ({ c, sessionKey, iv, data }) => {
        const result = outcome(
          () => decryptUserData(sessionKey, data, iv, { appid: c.appid }),
          [sessionKey, c.sessionKey]
        )
        const untouched = sessionKey === c.sessionKey && iv === c.iv64 && data === c.encryptedData
        if (untouched) expect(result.ok).toBe(true)
        if (!result.ok) {
          expect(result.error).toBeInstanceOf(DecryptError)
          return
        }
        const oracle = userDataOracle(
          Buffer.from(sessionKey, 'base64'),
          Buffer.from(iv, 'base64'),
          Buffer.from(data, 'base64'),
          c.appid
        )
        expect(oracle).toEqual({ ok: true, value: result.value })
      }),
      { numRuns: RUNS }
    )
  })

  it('with the wrong key or IV, or a plaintext that is not a payload, gives the reason the spec gives', () => {
    const crafted = fc
      .record({ key: bytes(16), iv: bytes(16), appid: appidArb })
      .chain(({ key, iv, appid }) =>
        fc.record({
          key: fc.constant(key),
          iv: fc.constant(iv),
          appid: fc.constant(appid),
          plaintext: oddUserDataPlaintext(appid),
          openKey: fc.oneof(fc.constant(key), bytes(16)),
          openIv: fc.oneof(fc.constant(iv), bytes(16)),
        })
      )
    fc.assert(
      fc.property(crafted, ({ key, iv, appid, plaintext, openKey, openIv }) => {
        const encryptedData = sealUserData(key, iv, plaintext)
        const result = outcome(() =>
          decryptUserData(openKey.toString('base64'), encryptedData, openIv.toString('base64'), {
            appid,
          })
        )
        const oracle = userDataOracle(openKey, openIv, Buffer.from(encryptedData, 'base64'), appid)
        expect(
          result.ok ? result : { ok: false, reason: (result.error as DecryptError).reason }
        ).toEqual(oracle)
      }),
      { numRuns: RUNS }
    )
  })

  it('on arguments of any type throws only DecryptError or InvalidInputError', () => {
    fc.assert(
      fc.property(
        fc.anything(),
        fc.anything(),
        fc.anything(),
        fc.oneof(fc.anything(), fc.record({ appid: fc.anything() })),
        (sessionKey, data, iv, options) => {
          const result = outcome(() =>
            decryptUserData(
              sessionKey as string,
              data as string,
              iv as string,
              options as { appid: string }
            )
          )
          expect(result.ok).toBe(false)
        }
      ),
      { numRuns: RUNS }
    )
  })
})

function official(): UserDataCase {
  return {
    key: Buffer.from(UD.sessionKey, 'base64'),
    iv: Buffer.from(UD.iv, 'base64'),
    appid: UD.appid,
    payload: JSON.parse(UD.plaintext) as Record<string, unknown>,
    sessionKey: UD.sessionKey,
    iv64: UD.iv,
    encryptedData: UD.encryptedData,
  }
}

// ---------------------------------------------------------------------------------------------
// MessageCrypto: AES-256-CBC, IV = key[0..16], PKCS#7 (32),
// random(16) + msg_len(4, BE) + msg + appid, msg_signature (wechat-api.md §10.2)

function aesKeyOf(encodingAESKey: string): Buffer {
  return Buffer.from(`${encodingAESKey}=`, 'base64')
}

/** Encrypts whole 16-byte blocks as given, with no padding of our own. */
function sealRaw(encodingAESKey: string, full: Buffer): string {
  const key = aesKeyOf(encodingAESKey)
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false)
  return Buffer.concat([cipher.update(full), cipher.final()]).toString('base64')
}

/** What §10.2 says an `Encrypt` value holds: the message text, or why it holds none. */
function messageOracle(encodingAESKey: string, appid: string, encrypt: Buffer): Verdict<string> {
  if (encrypt.length === 0 || encrypt.length % 16 !== 0) {
    return { ok: false, reason: 'invalid_ciphertext_length' }
  }
  const key = aesKeyOf(encodingAESKey)
  const decipher = createDecipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false)
  const full = Buffer.concat([decipher.update(encrypt), decipher.final()])
  const pad = full[full.length - 1]!
  if (pad < 1 || pad > 32 || pad > full.length || full.subarray(-pad).some((b) => b !== pad)) {
    return { ok: false, reason: 'bad_padding' }
  }
  const body = full.subarray(0, full.length - pad)
  if (body.length < 20) return { ok: false, reason: 'invalid_plaintext' }
  const length = body.readUInt32BE(16)
  if (20 + length > body.length) return { ok: false, reason: 'invalid_plaintext' }
  if (!body.subarray(20 + length).equals(Buffer.from(appid))) {
    return { ok: false, reason: 'appid_mismatch' }
  }
  const text = strictUtf8(body.subarray(20, 20 + length))
  return text === undefined ? { ok: false, reason: 'invalid_plaintext' } : { ok: true, value: text }
}

const fieldName = fc.oneof(
  fc.constantFrom('ToUserName', 'Encrypt', 'Content', 'xml', 'A', 'a.b-c_1'),
  fc.stringMatching(/^[A-Za-z_][\w.-]{0,8}$/)
)
const replyFields = fc.dictionary(
  fieldName,
  fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.integer()),
  { maxKeys: 5 }
)

interface PushSetup {
  token: string
  encodingAESKey: string
  appid: string
}

const pushSetup: fc.Arbitrary<PushSetup> = fc.oneof(
  fc.constant({ token: V1.token, encodingAESKey: V1.encodingAESKey, appid: V1.appid }),
  fc.constant({ token: V3.token, encodingAESKey: V3.encodingAESKey, appid: V3.appid }),
  fc.record({
    token: fc.string({ unit: 'binary', minLength: 1, maxLength: 32 }),
    encodingAESKey: encodingAESKeyArb,
    appid: appidArb,
  })
)

/** A valid safe-mode push: the query WeChat would send and the body, in either format. */
interface Push {
  setup: PushSetup
  crypto: MessageCrypto
  plaintext: string
  encrypt: string
  format: MessageFormat
  query: { msg_signature: string; timestamp: string; nonce: string }
  body: string
}

const pushArb: fc.Arbitrary<Push> = fc
  .record({
    setup: pushSetup,
    // What WeChat pushes is itself JSON or XML (decryptMessage parses it).
    message: fc.oneof(
      fc.constant(V1.message),
      replyFields.map((fields) => JSON.stringify(fields)),
      replyFields.map((fields) => buildXml(fields))
    ),
    format: fc.constantFrom<MessageFormat>('json', 'xml'),
    timestamp: fc.oneof(fc.constant(V1.timestamp), fc.nat().map(String)),
    nonce: fc.oneof(fc.constant(V1.nonce), fc.string({ maxLength: 12 })),
  })
  .map(({ setup, message, format, timestamp, nonce }) => {
    const crypto = new MessageCrypto(setup)
    const encrypt = crypto.encrypt(message)
    const body =
      format === 'json'
        ? JSON.stringify({ ToUserName: 'gh_97417a04a28d', Encrypt: encrypt })
        : `<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`
    const msg_signature = crypto.signature(timestamp, nonce, encrypt)
    return {
      setup,
      crypto,
      plaintext: message,
      encrypt,
      format,
      query: { msg_signature, timestamp, nonce },
      body,
    }
  })

/** Odd things to splice into an XML or JSON body. */
const bodyNoise = fc.oneof(
  fc.constantFrom(
    '&#0;',
    '&#99999999;',
    '&#x110000;',
    '&#xD800;',
    '&#xFFFFFFFFFF;',
    '&#1114111;',
    '&lt;',
    '&bogus;',
    '&#;',
    '&',
    '<![CDATA[',
    ']]>',
    '<!DOCTYPE x [<!ENTITY a "b">]>',
    '<Encrypt>',
    '</Encrypt>',
    '</xml>',
    '<xml>',
    '<A/>',
    '<?xml version="1.0"?>',
    '\uFEFF',
    '"Encrypt":',
    '{',
    '}',
    '\u0000'
  ),
  fc.nat().map((n) => `&#${n};`),
  fc.nat().map((n) => `&#x${n.toString(16)};`),
  fc.string({ unit: 'binary', maxLength: 8 })
)

describe('fuzz: MessageCrypto', () => {
  it('round-trips encrypt/decrypt and encryptReply/decryptMessage for valid messages', () => {
    fc.assert(
      fc.property(
        pushSetup,
        fc.oneof(fc.string({ unit: 'binary', maxLength: 80 }), replyFields),
        fc.constantFrom<MessageFormat>('json', 'xml'),
        fc.oneof(
          fc.nat(),
          fc.nat().map(String),
          fc.constant(V1.reply.timestamp),
          fc.constantFrom('0012', ' 1714112445', '+5', '1e3', '0x10', '', '1.5', '-1')
        ),
        fc.oneof(fc.string({ maxLength: 12 }), fc.nat()),
        (setup, reply, format, timestamp, nonce) => {
          const crypto = new MessageCrypto(setup)
          const text = typeof reply === 'string' ? reply : JSON.stringify(reply)
          expect(crypto.decrypt(crypto.encrypt(text))).toBe(text)
          const made = outcome(() => crypto.encryptReply(reply, { timestamp, nonce, format }))
          if (typeof timestamp === 'string' && !/^\d+$/.test(timestamp)) {
            expect(made.ok ? undefined : made.error).toBeInstanceOf(InvalidInputError)
            return
          }
          if (!made.ok) throw made.error
          const body = made.value
          // WeChat checks a reply against its own TimeStamp, Nonce and MsgSignature.
          const outer =
            format === 'json' ? (JSON.parse(body) as Record<string, unknown>) : parseXml(body)
          const query = {
            msg_signature: outer.MsgSignature as string,
            timestamp: outer.TimeStamp as string | number,
            nonce: outer.Nonce as string,
          }
          expect(Number(query.timestamp)).toBe(Number(timestamp))
          expect(query.nonce).toBe(String(nonce))
          if (typeof reply === 'string') {
            const encrypt = outer.Encrypt as string
            expect(crypto.signature(query.timestamp, query.nonce, encrypt)).toBe(
              query.msg_signature
            )
            expect(crypto.decrypt(encrypt)).toBe(reply)
            return
          }
          const back = crypto.decryptMessage(query, body)
          expect(back.format).toBe(format)
          expect(back.message).toEqual(
            format === 'json'
              ? JSON.parse(JSON.stringify(reply))
              : Object.fromEntries(Object.entries(reply).map(([k, v]) => [k, String(v)]))
          )
        }
      ),
      { numRuns: RUNS }
    )
  })

  it('decrypt on truncated, bit-flipped or garbage Encrypt throws only DecryptError, and returns only what the spec decrypts', () => {
    const mangled = pushArb.chain((push) =>
      fc.record({ push: fc.constant(push), encrypt: mangledBase64(push.encrypt) })
    )
    fc.assert(
      fc.property(mangled, ({ push, encrypt }) => {
        const result = outcome(() => push.crypto.decrypt(encrypt), [push.setup.encodingAESKey])
        if (encrypt === push.encrypt) expect(result).toEqual({ ok: true, value: push.plaintext })
        if (!result.ok) {
          expect(result.error).toBeInstanceOf(DecryptError)
          return
        }
        expect(
          messageOracle(push.setup.encodingAESKey, push.setup.appid, Buffer.from(encrypt, 'base64'))
        ).toEqual(result)
      }),
      { numRuns: RUNS }
    )
  })

  it('agrees with the spec on crafted plaintexts: padding 0 or > 32, length prefixes past the end, another appid, bad UTF-8', () => {
    const crafted = fc.record({
      setup: pushSetup,
      random: bytes(16),
      msg: fc.oneof(
        fc.string({ unit: 'binary', maxLength: 40 }).map((s) => Buffer.from(s)),
        bytes(0, 40)
      ),
      length: fc.oneof(
        fc.constant(undefined),
        fc.nat({ max: 80 }),
        fc.constantFrom(0xffffffff, 0x80000000, 0xffffffec)
      ),
      trailer: fc.oneof(
        fc.constant(undefined),
        fc.string({ unit: 'binary', maxLength: 20 }).map((s) => Buffer.from(s)),
        bytes(0, 20)
      ),
      padding: fc.oneof(
        fc.constant({ kind: 'valid' as const }),
        fc.integer({ min: 0, max: 255 }).map((value) => ({ kind: 'value' as const, value })),
        fc.constant({ kind: 'random' as const })
      ),
      filler: bytes(32),
    })
    fc.assert(
      fc.property(crafted, ({ setup, random, msg, length, trailer, padding, filler }) => {
        const prefix = Buffer.alloc(4)
        prefix.writeUInt32BE(length ?? msg.length)
        const body = Buffer.concat([random, prefix, msg, trailer ?? Buffer.from(setup.appid)])
        let tail: Buffer
        if (padding.kind === 'valid') {
          const n = 32 - (body.length % 32)
          tail = Buffer.alloc(n, n)
        } else {
          const n = 16 - (body.length % 16)
          tail = padding.kind === 'value' ? Buffer.alloc(n, padding.value) : filler.subarray(0, n)
        }
        const encrypt = sealRaw(setup.encodingAESKey, Buffer.concat([body, tail]))
        const crypto = new MessageCrypto(setup)
        const result = outcome(() => crypto.decrypt(encrypt))
        const oracle = messageOracle(
          setup.encodingAESKey,
          setup.appid,
          Buffer.from(encrypt, 'base64')
        )
        expect(
          result.ok ? result : { ok: false, reason: (result.error as DecryptError).reason }
        ).toEqual(oracle)
      }),
      { numRuns: RUNS }
    )
  })

  it('decryptMessage on mangled signatures, timestamps, nonces and bodies throws only the documented errors', () => {
    const mangled = pushArb.chain((push) =>
      fc.record({
        push: fc.constant(push),
        msg_signature: fc.oneof(
          fc.constant(push.query.msg_signature),
          fc.constant(push.query.msg_signature.toUpperCase()),
          fc.nat({ max: 39 }).map((n) => push.query.msg_signature.slice(0, n)),
          fc
            .nat({ max: 39 })
            .map(
              (i) =>
                push.query.msg_signature.slice(0, i) +
                (push.query.msg_signature[i] === '0' ? '1' : '0') +
                push.query.msg_signature.slice(i + 1)
            ),
          fc.anything()
        ),
        timestamp: fc.oneof(
          fc.constant(push.query.timestamp),
          fc.string({ maxLength: 12 }),
          fc.integer(),
          fc.anything()
        ),
        nonce: fc.oneof(fc.constant(push.query.nonce), fc.string({ maxLength: 12 }), fc.anything()),
        body: fc.oneof(
          fc.constant(push.body),
          fc.nat({ max: push.body.length - 1 }).map((n) => push.body.slice(0, n)),
          fc
            .tuple(fc.nat({ max: push.body.length }), bodyNoise)
            .map(([i, s]) => push.body.slice(0, i) + s + push.body.slice(i)),
          fc
            .tuple(fc.nat({ max: push.body.length - 1 }), bodyNoise)
            .map(([i, s]) => push.body.slice(0, i) + s + push.body.slice(i + 1)),
          fc.array(bodyNoise, { maxLength: 12 }).map((parts) => parts.join('')),
          fc.anything()
        ),
      })
    )
    fc.assert(
      fc.property(mangled, ({ push, msg_signature, timestamp, nonce, body }) => {
        const query = { msg_signature, timestamp, nonce } as Parameters<
          MessageCrypto['decryptMessage']
        >[0]
        const result = outcome(
          () => push.crypto.decryptMessage(query, body as string),
          [push.setup.encodingAESKey, push.setup.token]
        )
        const untouched =
          msg_signature === push.query.msg_signature &&
          timestamp === push.query.timestamp &&
          nonce === push.query.nonce &&
          body === push.body
        if (untouched) expect(result.ok).toBe(true)
        if (!result.ok) return
        // Whatever mangling got through, the query as given signs the Encrypt that was sent,
        // and only the message WeChat signed comes out.
        expect(typeof msg_signature).toBe('string')
        expect((msg_signature as string).toLowerCase()).toBe(
          sortedSha1Of(push.setup.token, timestamp, nonce, push.encrypt)
        )
        expect(result.value.plaintext).toBe(push.plaintext)
      }),
      { numRuns: RUNS }
    )
  })

  it('on options and arguments of any type throws only InvalidInputError or DecryptError', () => {
    const options = fc.record(
      {
        token: fc.oneof(fc.string({ maxLength: 8 }), fc.anything()),
        encodingAESKey: fc.oneof(
          encodingAESKeyArb,
          encodingAESKeyArb.map((k) => k.slice(0, 42)),
          encodingAESKeyArb.map((k) => `${k}=`),
          fc.anything()
        ),
        appid: fc.oneof(appidArb, fc.anything()),
        previousEncodingAESKey: fc.oneof(encodingAESKeyArb, fc.anything()),
        randomBytes: fc.oneof(
          fc.anything(),
          fc.anything().map((value) => () => value),
          bytes(0, 20).map((b) => () => b)
        ),
      },
      { requiredKeys: [] }
    )
    fc.assert(
      fc.property(
        fc.oneof(options, fc.anything()),
        fc.anything(),
        fc.anything(),
        fc.anything(),
        (opts, text, replyOptions, query) => {
          const made = outcome(() => new MessageCrypto(opts as never))
          if (!made.ok) {
            expect(made.error).toBeInstanceOf(InvalidInputError)
            return
          }
          const crypto = made.value
          outcome(() => crypto.encrypt(typeof text === 'string' ? text : 'x'))
          outcome(() => crypto.decrypt(text as string))
          outcome(() => crypto.encryptReply({ a: 'b' }, replyOptions as never))
          outcome(() => crypto.verifyUrl(query as never))
          outcome(() => crypto.decryptMessage(query as never, text as never))
        }
      ),
      { numRuns: RUNS }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// verifySignature: sha1(sort([token, timestamp, nonce])) (wechat-api.md §10.1)

describe('fuzz: verifySignature', () => {
  const vectors = [urlVerificationVector, plaintextPushVector]

  it('accepts exactly the right signature; bit flips, truncation and noise are refused', () => {
    const params = fc.oneof(
      fc.constantFrom(...vectors).chain((v) =>
        fc.record({
          token: fc.constant(v.token),
          timestamp: fc.oneof(fc.constant(v.timestamp), fc.string({ maxLength: 12 })),
          nonce: fc.oneof(fc.constant(v.nonce), fc.nat()),
          signature: fc.oneof(
            fc.constant(v.signature),
            fc.constant(v.signature.toUpperCase()),
            fc.nat({ max: 39 }).map((n) => v.signature.slice(0, n)),
            fc
              .tuple(fc.nat({ max: 39 }), fc.constantFrom(...'0123456789abcdefg'))
              .map(([i, c]) => v.signature.slice(0, i) + c + v.signature.slice(i + 1)),
            fc.string({ unit: 'binary', maxLength: 48 })
          ),
        })
      ),
      fc.record({
        token: fc.string({ unit: 'binary', minLength: 1, maxLength: 16 }),
        timestamp: fc.oneof(fc.string({ maxLength: 12 }), fc.integer()),
        nonce: fc.oneof(fc.string({ maxLength: 12 }), fc.integer()),
        signature: fc.string({ unit: 'binary', maxLength: 48 }),
      })
    )
    fc.assert(
      fc.property(params, (p) => {
        const ok = verifySignature(p)
        const expected = sortedSha1Of(p.token, p.timestamp, p.nonce)
        expect(ok).toBe(p.signature.toLowerCase() === expected)
      }),
      { numRuns: RUNS }
    )
  })

  it('never accepts a forged signature when the token is missing, and says so', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constantFrom(undefined, null, ''), fc.anything()),
        fc.string({ maxLength: 12 }),
        fc.string({ maxLength: 12 }),
        (token, timestamp, nonce) => {
          fc.pre(typeof token !== 'string' || token === '')
          // What an attacker who knows no token would send: sha1 over timestamp and nonce alone.
          const forged = sortedSha1Of('', timestamp, nonce)
          const result = outcome(() =>
            verifySignature({ token: token as string, signature: forged, timestamp, nonce })
          )
          expect(result.ok).toBe(false)
          expect(result.ok ? undefined : result.error).toBeInstanceOf(InvalidInputError)
        }
      ),
      { numRuns: RUNS }
    )
  })
})

// ---------------------------------------------------------------------------------------------
// The minimal push XML

const xmlToken = fc.oneof(
  bodyNoise,
  fc.constantFrom('<A>', '</A>', '<B x="1">', '</B>', ' ', '\n', 'text', '<', '>', '/>')
)

describe('fuzz: parseXml and buildXml', () => {
  it('parses any string into a record of strings or throws DecryptError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.array(xmlToken, { maxLength: 20 }).map((t) => `<xml>${t.join('')}</xml>`),
          fc.array(xmlToken, { maxLength: 20 }).map((t) => t.join('')),
          fc.string({ unit: 'binary', maxLength: 60 })
        ),
        (xml) => {
          const result = outcome(() => parseXml(xml))
          if (!result.ok) {
            expect(result.error).toBeInstanceOf(DecryptError)
            return
          }
          for (const value of Object.values(result.value)) expect(typeof value).toBe('string')
        }
      ),
      { numRuns: RUNS * 2 }
    )
  })

  it('parses back what buildXml builds, whatever the names and values', () => {
    fc.assert(
      fc.property(replyFields, (fields) => {
        expect(parseXml(buildXml(fields))).toEqual(
          Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, String(v)]))
        )
      }),
      { numRuns: RUNS }
    )
  })

  it('buildXml and parseXml on arguments of any type throw only InvalidInputError or DecryptError', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.dictionary(fc.string({ maxLength: 6 }), fc.anything()), fc.anything()),
        (value) => {
          outcome(() => buildXml(value as Record<string, string>))
          outcome(() => parseXml(value as string))
        }
      ),
      { numRuns: RUNS }
    )
  })
})
