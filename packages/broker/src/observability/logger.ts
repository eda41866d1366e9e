import { pino } from 'pino'
import type { DestinationStream, Logger } from 'pino'
import { LineBatch } from './log-batch.js'

// JSON lines to stdout. Redaction is a safety net under the rule that secrets, tokens and session
// keys are never put in a log object in the first place (test/http/redaction.test.ts checks both).
export const REDACT_PATHS = [
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'headers.authorization',
  'secret',
  '*.secret',
  'access_token',
  '*.access_token',
  'accessToken',
  '*.accessToken',
  'session_key',
  '*.session_key',
  'sessionKey',
  '*.sessionKey',
  'key',
  '*.key',
]

export type BrokerLogger = Logger

/** stdout, batched (see LineBatch); flushed on shutdown and at exit. */
export function bufferedStdout(): DestinationStream {
  // minLength 1: SonicBoom writes each batch at once, and its flush(cb) waits for the write.
  return new LineBatch(pino.destination({ dest: 1, sync: false, minLength: 1 }))
}

export function createLogger(
  opts: { level?: string; destination?: DestinationStream } = {}
): BrokerLogger {
  return pino(
    {
      name: 'wxbroker',
      level: opts.level ?? 'info',
      base: { pid: process.pid },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    opts.destination ?? bufferedStdout()
  )
}

/**
 * Hides the credentials of every `scheme://user:pass@` URL inside free text (an error message):
 * `scheme://***@`. (Config messages show one whole value and mask it in config/format-issues.ts.)
 */
export function maskUrlCredentialsIn(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@'"]*@/gi, '$1***@')
}

/**
 * Credentials as query parameters: WeChat's (access_token, secret, appsecret, js_code, a phone
 * number's code, session_key) and the broker's keys. An underscore may come percent-encoded, as
 * WeChat decodes names; `errcode=` and the like are other words and stay.
 */
const CREDENTIAL_PARAM =
  /\b(secret|appsecret|access(?:_|%5f)token|session(?:_|%5f)key|js(?:_|%5f)code|code|key)=[^&\s"']*/gi

/**
 * Removes credential-looking query parameters from free text (an upstream URL in an error, a
 * request target): the one redaction of query strings before anything is logged.
 */
export function scrubSecrets(text: string): string {
  return text.replace(CREDENTIAL_PARAM, '$1=[redacted]')
}
