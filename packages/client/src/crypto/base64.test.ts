import { describe, expect, it } from 'vitest'
import { DecryptError } from '../errors.js'
import { decodeBase64 } from './base64.js'

describe('decodeBase64', () => {
  it.each([
    ['AA==', 1],
    ['AAA=', 2],
    ['AAAA', 3],
  ])('accepts %s', (value, length) => {
    expect(decodeBase64('x', value)).toHaveLength(length)
  })

  it.each(['', 'A', 'AA=', 'A===', '====', 'AA=A', '=AAA', 'AA==AAAA', 'AA AA', 'AA-_', 'AAA\n'])(
    'refuses %j',
    (value) => {
      expect(() => decodeBase64('x', value)).toThrow(DecryptError)
    }
  )

  // Regression found by crypto.fuzz.test.ts: the old pattern repeated a group, and V8's
  // backtrack stack overflowed (a RangeError) from about 5 MB of base64.
  it('checks megabytes of base64 without overflowing the regexp stack', () => {
    expect(decodeBase64('x', 'A'.repeat(8_000_000))).toHaveLength(6_000_000)
    expect(() => decodeBase64('x', `${'A'.repeat(7_999_999)}$`)).toThrow(
      /^invalid_base64: x is not valid base64$/
    )
  })
})
