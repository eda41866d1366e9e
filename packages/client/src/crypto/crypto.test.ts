import { createCipheriv, createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import {
  deterministicVector as V3,
  plaintextPushVector,
  safeModeVector as V1,
  sessionKeySignatureVectors,
  urlVerificationVector,
  userDataVector as UD,
} from '../../test/helpers/vectors.js'
import { DecryptError, InvalidInputError } from '../errors.js'
import { MessageCrypto, type MessageFormat, type VerifyUrlQuery } from './message-crypto.js'
import { sessionKeySignature, verifySignature } from './signature.js'
import { decryptUserData } from './user-data.js'

function fixed(text: string): () => Uint8Array {
  return () => Buffer.from(text, 'utf8')
}

function decryptError(fn: () => unknown): DecryptError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(DecryptError)
    return error as DecryptError
  }
  throw new Error('expected a DecryptError')
}

/** Encrypts user data as WeChat does (AES-128-CBC, PKCS#7) with fixed key 1s and IV 2s. */
const userKey = Buffer.alloc(16, 1)
const userIv = Buffer.alloc(16, 2)
function sealUserData(plaintext: string | Buffer): string {
  const c = createCipheriv('aes-128-cbc', userKey, userIv)
  return Buffer.concat([c.update(plaintext), c.final()]).toString('base64')
}

describe('decryptUserData', () => {
  it('decrypts the official sample and checks the watermark', () => {
    const data = decryptUserData(UD.sessionKey, UD.encryptedData, UD.iv, { appid: UD.appid })
    expect(data).toEqual(JSON.parse(UD.plaintext))
    expect(data.watermark.appid).toBe(UD.appid)
  })

  it('rejects a watermark for another appid', () => {
    const e = decryptError(() =>
      decryptUserData(UD.sessionKey, UD.encryptedData, UD.iv, { appid: 'wx0000000000000000' })
    )
    expect(e.reason).toBe('appid_mismatch')
  })

  it.each([
    ['malformed base64 session key', 'not*base64', UD.encryptedData, UD.iv, 'invalid_base64'],
    ['malformed base64 data', UD.sessionKey, 'abc$', UD.iv, 'invalid_base64'],
    ['malformed base64 iv', UD.sessionKey, UD.encryptedData, 'r7BX=XKk', 'invalid_base64'],
    [
      'a 24-byte key',
      Buffer.alloc(24).toString('base64'),
      UD.encryptedData,
      UD.iv,
      'invalid_key_length',
    ],
    [
      'an 8-byte iv',
      UD.sessionKey,
      UD.encryptedData,
      Buffer.alloc(8).toString('base64'),
      'invalid_iv_length',
    ],
    [
      'a ciphertext that is not whole blocks',
      UD.sessionKey,
      Buffer.alloc(20).toString('base64'),
      UD.iv,
      'invalid_ciphertext_length',
    ],
    [
      'the wrong session key',
      Buffer.alloc(16, 7).toString('base64'),
      UD.encryptedData,
      UD.iv,
      'bad_padding',
    ],
  ])('rejects %s with a clear reason', (_name, key, data, iv, reason) => {
    const e = decryptError(() => decryptUserData(key, data, iv, { appid: UD.appid }))
    expect(e.reason).toBe(reason)
    expect(e.message).not.toContain(key)
    expect(e.message).not.toMatch(/error:[0-9a-f]{8}|EVP_|bad decrypt/i)
  })

  it('rejects tampered ciphertext', () => {
    const bytes = Buffer.from(UD.encryptedData, 'base64')
    bytes[bytes.length - 1]! ^= 0x55 // corrupt the padding block
    const e = decryptError(() =>
      decryptUserData(UD.sessionKey, bytes.toString('base64'), UD.iv, { appid: UD.appid })
    )
    expect(e.reason).toBe('bad_padding')
  })

  it('rejects a plaintext that is not JSON, or JSON without a watermark', () => {
    const k = userKey.toString('base64')
    const i = userIv.toString('base64')
    expect(
      decryptError(() => decryptUserData(k, sealUserData('hello'), i, { appid: 'wx1' })).reason
    ).toBe('invalid_plaintext')
    expect(
      decryptError(() => decryptUserData(k, sealUserData('{"a":1}'), i, { appid: 'wx1' })).reason
    ).toBe('missing_watermark')
  })

  // Regressions found by crypto.fuzz.test.ts.

  it('rejects a payload that is not valid UTF-8 instead of returning it with U+FFFD in it', () => {
    const appid = 'wxb11529c136998cb6'
    const plaintext = Buffer.from(
      `{"note":"abcdefghij","watermark":{"appid":"${appid}","timestamp":1}}`
    )
    plaintext[9] = 0xff // the "a": a damaged byte inside a string value
    const e = decryptError(() =>
      decryptUserData(
        userKey.toString('base64'),
        sealUserData(plaintext),
        userIv.toString('base64'),
        { appid }
      )
    )
    expect(e.reason).toBe('invalid_plaintext')
  })

  it('rejects a JSON array as not an object, even one holding a watermark', () => {
    const e = decryptError(() =>
      decryptUserData(
        userKey.toString('base64'),
        sealUserData('[{"watermark":{"appid":"wx1","timestamp":1}}]'),
        userIv.toString('base64'),
        { appid: 'wx1' }
      )
    )
    expect(e.reason).toBe('invalid_plaintext')
  })

  it('requires the appid option', () => {
    expect(() =>
      decryptUserData(UD.sessionKey, UD.encryptedData, UD.iv, {} as { appid: string })
    ).toThrow(InvalidInputError)
  })
})

describe('signatures', () => {
  it('refuses to verify without a token: a forged signature over timestamp and nonce was accepted', () => {
    const { timestamp, nonce } = urlVerificationVector
    const forged = createHash('sha1').update([timestamp, nonce].sort().join('')).digest('hex')
    for (const token of [undefined, '', null, 0]) {
      expect(() =>
        verifySignature({ token: token as string, signature: forged, timestamp, nonce })
      ).toThrow(InvalidInputError)
    }
    expect(() => verifySignature(undefined as never)).toThrow(InvalidInputError)
  })

  it('verifies the official URL-verification and plaintext-push signatures', () => {
    const { token, signature, timestamp, nonce } = urlVerificationVector
    expect(verifySignature({ token, signature, timestamp, nonce })).toBe(true)
    expect(verifySignature({ ...plaintextPushVector })).toBe(true)
    expect(verifySignature({ token, signature, timestamp, nonce: '1' })).toBe(false)
    expect(verifySignature({ token: 'BBBBB', signature, timestamp, nonce })).toBe(false)
    expect(verifySignature({ token, signature: '', timestamp, nonce })).toBe(false)
    expect(verifySignature({ token, signature: 'f464', timestamp, nonce })).toBe(false)
  })

  it.each(sessionKeySignatureVectors)(
    'computes the checksession HMAC keyed by the session_key string',
    ({ sessionKey, message, signature }) => {
      expect(sessionKeySignature(sessionKey, message)).toBe(signature)
    }
  )

  it('signs the empty message by default, as checksession requires', () => {
    const { sessionKey, signature } = sessionKeySignatureVectors[1]!
    expect(sessionKeySignature(sessionKey)).toBe(signature)
  })
})

describe('MessageCrypto', () => {
  const v1 = (random?: string): MessageCrypto =>
    new MessageCrypto({
      token: V1.token,
      encodingAESKey: V1.encodingAESKey,
      appid: V1.appid,
      ...(random === undefined ? {} : { randomBytes: fixed(random) }),
    })

  it('decrypts the official JSON safe-mode request after checking msg_signature', () => {
    const result = v1().decryptMessage(
      { msg_signature: V1.msgSignature, timestamp: V1.timestamp, nonce: V1.nonce },
      V1.body
    )
    expect(result.format).toBe('json')
    expect(result.plaintext).toBe(V1.message)
    expect(result.message).toMatchObject({ Event: 'debug_demo', debug_str: 'hello world' })
  })

  it('reproduces the official request ciphertext from its random prefix', () => {
    const encrypt = (JSON.parse(V1.body) as { Encrypt: string }).Encrypt
    expect(v1('a8eedb185eb2fecf').encrypt(V1.message)).toBe(encrypt)
  })

  it('encrypts the official reply byte for byte (Encrypt, MsgSignature, body)', () => {
    const crypto = v1(V1.reply.random)
    expect(crypto.encrypt(V1.reply.message)).toBe(V1.reply.encrypt)
    expect(crypto.signature(V1.reply.timestamp, V1.reply.nonce, V1.reply.encrypt)).toBe(
      V1.reply.msgSignature
    )
    const body = crypto.encryptReply(V1.reply.message, {
      timestamp: V1.reply.timestamp,
      nonce: V1.reply.nonce,
      format: 'json',
    })
    expect(body).toBe(V1.reply.body)
    expect(crypto.encryptReply({ demo_resp: 'good luck' }, { ...V1.reply, format: 'json' })).toBe(
      V1.reply.body
    )
  })

  it('matches the deterministic vector V3 (UTF-8 length) and its msg_signature', () => {
    const crypto = new MessageCrypto({
      token: V3.token,
      encodingAESKey: V3.encodingAESKey,
      appid: V3.appid,
      randomBytes: fixed(V3.random),
    })
    expect(crypto.encrypt(V3.message)).toBe(V3.encrypt)
    expect(crypto.decrypt(V3.encrypt)).toBe(V3.message)
    expect(crypto.signature(V3.timestamp, V3.nonce, V3.encrypt)).toBe(V3.msgSignature)
  })

  it('round-trips XML bodies both ways, with CDATA that contains "]]>"', () => {
    const crypto = v1()
    const reply = crypto.encryptReply(
      { ToUserName: 'o9AgO5Kd', Content: 'a ]]> b <c> & d', CreateTime: 1714112445 },
      { timestamp: 1714112445, nonce: '42', format: 'xml' }
    )
    expect(reply).toMatch(/^<xml><Encrypt><!\[CDATA\[.+\]\]><\/Encrypt><MsgSignature>/)
    expect(reply).toContain('<TimeStamp>1714112445</TimeStamp><Nonce><![CDATA[42]]></Nonce></xml>')
    const sig = /<MsgSignature><!\[CDATA\[([0-9a-f]+)\]\]>/.exec(reply)![1]!
    const back = crypto.decryptMessage(
      { msg_signature: sig, timestamp: 1714112445, nonce: 42 },
      reply
    )
    expect(back.format).toBe('xml')
    expect(back.message).toEqual({
      ToUserName: 'o9AgO5Kd',
      Content: 'a ]]> b <c> & d',
      CreateTime: '1714112445',
    })
  })

  it('decrypts an XML push body (Encrypt in CDATA)', () => {
    const crypto = v1()
    const encrypt = (JSON.parse(V1.body) as { Encrypt: string }).Encrypt
    const xml = `<xml><ToUserName><![CDATA[gh_97417a04a28d]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`
    const result = crypto.decryptMessage(
      { msg_signature: V1.msgSignature, timestamp: V1.timestamp, nonce: V1.nonce },
      xml
    )
    expect(result.plaintext).toBe(V1.message)
  })

  it('answers URL verification with echostr, and refuses a bad signature', () => {
    const { token, signature, timestamp, nonce, echostr } = urlVerificationVector
    const crypto = new MessageCrypto({ token, encodingAESKey: V1.encodingAESKey, appid: V1.appid })
    expect(crypto.verifyUrl({ signature, timestamp, nonce, echostr })).toBe(echostr)
    expect(
      decryptError(() => crypto.verifyUrl({ signature, timestamp: '1', nonce, echostr })).reason
    ).toBe('signature_mismatch')
  })

  it('refuses a wrong msg_signature before decrypting', () => {
    const e = decryptError(() =>
      v1().decryptMessage(
        { msg_signature: 'a'.repeat(40), timestamp: V1.timestamp, nonce: V1.nonce },
        V1.body
      )
    )
    expect(e.reason).toBe('signature_mismatch')
  })

  it('rejects a message for another appid, tampered ciphertext and missing Encrypt', () => {
    const encrypt = (JSON.parse(V1.body) as { Encrypt: string }).Encrypt
    const other = new MessageCrypto({
      token: 'AAAAA',
      encodingAESKey: V1.encodingAESKey,
      appid: 'wx0',
    })
    expect(decryptError(() => other.decrypt(encrypt)).reason).toBe('appid_mismatch')
    const bytes = Buffer.from(encrypt, 'base64')
    bytes[bytes.length - 1]! ^= 0xff
    expect(decryptError(() => v1().decrypt(bytes.toString('base64'))).reason).toBe('bad_padding')
    expect(decryptError(() => v1().decrypt('%%%')).reason).toBe('invalid_base64')
    expect(decryptError(() => v1().decrypt(Buffer.alloc(33).toString('base64'))).reason).toBe(
      'invalid_ciphertext_length'
    )
    expect(
      decryptError(() =>
        v1().decryptMessage({ msg_signature: 'x', timestamp: 1, nonce: 1 }, '{"ToUserName":"gh"}')
      ).reason
    ).toBe('missing_field')
    expect(
      decryptError(() =>
        v1().decryptMessage({ msg_signature: 'x', timestamp: 1, nonce: 1 }, 'hello')
      ).reason
    ).toBe('invalid_plaintext')
  })

  it('decrypts with the previous EncodingAESKey during a rotation and encrypts with the new one', () => {
    const encrypt = (JSON.parse(V1.body) as { Encrypt: string }).Encrypt
    const rotated = new MessageCrypto({
      token: V1.token,
      encodingAESKey: V3.encodingAESKey,
      previousEncodingAESKey: V1.encodingAESKey,
      appid: V1.appid,
    })
    expect(rotated.decrypt(encrypt)).toBe(V1.message)
    const fresh = rotated.encrypt('x')
    expect(rotated.decrypt(fresh)).toBe('x')
    expect(() => v1().decrypt(fresh)).toThrow(DecryptError)
  })

  it('validates its options, naming the field and never echoing the key', () => {
    const badKey = 'short-key-value'
    expect(() => new MessageCrypto({ token: 't', encodingAESKey: badKey, appid: 'wx1' })).toThrow(
      /encodingAESKey: must be the 43-character EncodingAESKey/
    )
    try {
      new MessageCrypto({ token: 't', encodingAESKey: badKey, appid: 'wx1' })
    } catch (error) {
      expect((error as Error).message).not.toContain(badKey)
    }
    expect(
      () => new MessageCrypto({ token: '', encodingAESKey: V1.encodingAESKey, appid: 'wx1' })
    ).toThrow(/^token:/)
    expect(() =>
      new MessageCrypto({
        token: 't',
        encodingAESKey: V1.encodingAESKey,
        appid: 'wx1',
        randomBytes: () => new Uint8Array(3),
      }).encrypt('x')
    ).toThrow(/randomBytes/)
  })

  // Regressions found by crypto.fuzz.test.ts.

  it('rejects a bit-flipped Encrypt that decrypts to bytes that are not UTF-8', () => {
    const encrypt = (JSON.parse(V1.body) as { Encrypt: string }).Encrypt
    const bytes = Buffer.from(encrypt, 'base64')
    bytes[32]! ^= 1 // garbles message bytes 12..27; padding, length and appid stay intact
    const e = decryptError(() => v1().decrypt(bytes.toString('base64')))
    expect(e.reason).toBe('invalid_plaintext')
  })

  it('compares the appid trailer as bytes, and rejects a message that is not UTF-8', () => {
    const seal = (full: Buffer): string => {
      const c = createCipheriv('aes-256-cbc', Buffer.alloc(32), Buffer.alloc(16))
      return Buffer.concat([c.update(full), c.final()]).toString('base64') // PKCS#7 16 ⊂ 32
    }
    const frame = (msg: Buffer, trailer: Buffer): Buffer => {
      const length = Buffer.alloc(4)
      length.writeUInt32BE(msg.length)
      return Buffer.concat([Buffer.alloc(16), length, msg, trailer])
    }
    const odd = new MessageCrypto({
      token: 't',
      encodingAESKey: V1.encodingAESKey,
      appid: '\uFFFD',
    })
    const e1 = decryptError(() => odd.decrypt(seal(frame(Buffer.from('hi'), Buffer.from([0xff])))))
    expect(e1.reason).toBe('appid_mismatch')
    const e2 = decryptError(() =>
      v1().decrypt(seal(frame(Buffer.from([0x80]), Buffer.from(V1.appid))))
    )
    expect(e2.reason).toBe('invalid_plaintext')
  })

  it('signs a reply with the TimeStamp its body carries, and refuses timestamps that are not whole seconds', () => {
    const crypto = v1(V1.reply.random)
    const body = JSON.parse(
      crypto.encryptReply(V1.reply.message, { timestamp: '0012', nonce: 1, format: 'json' })
    ) as { Encrypt: string; MsgSignature: string; TimeStamp: number; Nonce: string }
    expect(body.TimeStamp).toBe(12)
    expect(body.MsgSignature).toBe(crypto.signature(body.TimeStamp, body.Nonce, body.Encrypt))
    for (const timestamp of ['', ' 1714112445', '1e3', '0x10', '1.5', '-1', -1, 1.5, NaN]) {
      expect(() => crypto.encryptReply('x', { timestamp, nonce: 1, format: 'json' })).toThrow(
        /^timestamp: must be a Unix time in whole seconds/
      )
    }
    expect(() =>
      crypto.encryptReply('x', { timestamp: 1, nonce: 1, format: 'JSON' as MessageFormat })
    ).toThrow(/^format: must be "json" or "xml"/)
  })

  it('throws InvalidInputError, not a TypeError, for a missing query or body', () => {
    const query = { msg_signature: V1.msgSignature, timestamp: V1.timestamp, nonce: V1.nonce }
    for (const body of [undefined, null, 42, Buffer.from(V1.body)]) {
      expect(() => v1().decryptMessage(query, body as unknown as string)).toThrow(
        /^body: must be the raw request body/
      )
    }
    expect(() => v1().decryptMessage(undefined as never, V1.body)).toThrow(InvalidInputError)
    expect(() => v1().verifyUrl(undefined as never)).toThrow(InvalidInputError)
    const { signature, timestamp, nonce } = urlVerificationVector
    const noEcho = { signature, timestamp, nonce } as VerifyUrlQuery
    expect(decryptError(() => v1().verifyUrl(noEcho)).reason).toBe('missing_field')
  })

  it('checks randomBytes: a function, returning 16 bytes', () => {
    const options = { token: 't', encodingAESKey: V1.encodingAESKey, appid: 'wx1' }
    expect(() => new MessageCrypto({ ...options, randomBytes: 'x' as never })).toThrow(
      /^randomBytes: must be a function/
    )
    const notBytes = new MessageCrypto({ ...options, randomBytes: () => ({}) as Uint8Array })
    expect(() => notBytes.encrypt('x')).toThrow(/^randomBytes: must return exactly the 16 bytes/)
  })

  it('refuses a quadratic XML body quickly, before the signature is checked', () => {
    const body = `<xml><Encrypt>${'<![CDATA[]]>'.repeat(20_000)}</Encrypt></xml>`
    const started = performance.now()
    const e = decryptError(() =>
      v1().decryptMessage({ msg_signature: 'x', timestamp: 1, nonce: 1 }, body)
    )
    expect(e.reason).toBe('missing_field')
    expect(performance.now() - started).toBeLessThan(1000)
  })
})
