import { pino } from 'pino'
import type { DestinationStream, Logger } from 'pino'

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

/**
 * stdout, written in chunks of at least 4 KiB or every 250 ms, whichever comes first: one write
 * per access line would cost more than serving the token. Flushed on shutdown.
 */
export function bufferedStdout(): DestinationStream {
  return pino.destination({ dest: 1, sync: false, minLength: 4096, periodicFlush: 250 })
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

/** Removes credential-looking query parameters from free text (e.g. an upstream URL in an error). */
export function scrubSecrets(text: string): string {
  return text.replace(
    /\b(secret|appsecret|access_token|session_key|js_code|key)=[^&\s"']*/gi,
    '$1=[redacted]'
  )
}
