import { describe, expect, it } from 'vitest'
import { buildConfig, sha256 } from '../../src/config/load.js'
import { describeFatal, guardSecretsOf } from '../../src/commands/fatal-error.js'

// The one line an uncaught error becomes (src/commands/fatal-error.ts); the process-level handlers around
// it are driven through the real CLI in serve-lifecycle.test.ts.

const SECRET = 'fatal-app-secret-3f9a'
const KEY = 'fatal-client-key-0000000000042'
const METRICS_KEY = 'fatal-metrics-key-000000000099'

guardSecretsOf(
  buildConfig(
    {
      store: { redis: ['redis://user:p%40ss-word-1@h1:6379/0', 'redis://:plain-pw-2@h2:6379/0'] },
      apps: [{ appid: 'wx00000000000fa7a1', secret: SECRET }],
      clients: [
        {
          name: 'svc',
          keySha256: sha256(KEY).toString('hex'),
          apps: ['*'],
          scopes: ['token:read'],
        },
      ],
      metrics: { key: METRICS_KEY },
    },
    '(test)',
    {}
  )
)

describe('describeFatal', () => {
  it('removes app secrets, Redis passwords (as written and decoded) and client keys by value', () => {
    const line = describeFatal(
      new Error(
        `a ${SECRET} b p%40ss-word-1 c p@ss-word-1 d plain-pw-2 e Bearer ${KEY} f "${METRICS_KEY}"`
      )
    )
    expect(line).toBe(
      'Error: a [redacted] b [redacted] c [redacted] d [redacted] e Bearer [redacted] f "[redacted]"'
    )
  })

  it('masks URL credentials and secret-like parameters, keeps the code, makes one line', () => {
    const error = Object.assign(
      new TypeError('bad redis://u:other-pw@host:1/0\n  then https://x/?secret=abc&ok=1'),
      { code: 'ERR_X' }
    )
    expect(describeFatal(error)).toBe(
      'TypeError: bad redis://***@host:1/0 then https://x/?secret=[redacted]&ok=1 (ERR_X)'
    )
  })

  it('describes a thrown non-Error value', () => {
    expect(describeFatal(`x ${SECRET}`)).toBe('uncaught value: x [redacted]')
  })
})
