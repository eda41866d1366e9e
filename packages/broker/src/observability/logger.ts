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

/** The fields of every line (pino's `base`); `name` and child bindings follow them. */
const BASE = { pid: process.pid }

export function createLogger(
  opts: { level?: string; destination?: DestinationStream } = {}
): BrokerLogger {
  const destination = opts.destination ?? bufferedStdout()
  const logger = pino(
    {
      name: 'wxbroker',
      level: opts.level ?? 'info',
      base: BASE,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      // Children inherit this hook: every logger of the tree is known to lineWriter.
      onChild: (child) => destinations.set(child, destination),
    },
    destination
  )
  destinations.set(logger, destination)
  return logger
}

/** Where each logger made by createLogger, or a child of one, writes. */
const destinations = new WeakMap<Logger, DestinationStream>()

/**
 * The bindings part of a line as pino writes it: the base, then the name and each child's
 * bindings in order. logger.bindings() (already redacted) holds all but pid and hostname, which
 * pino leaves out of it; they come from the base, in its place. (A child binding named pid or
 * hostname would be lost: none is made.)
 */
function bindingsJson(logger: Logger): string {
  let json = ''
  for (const [key, value] of Object.entries({ ...BASE, ...logger.bindings() })) {
    json += `,${JSON.stringify(key)}:${JSON.stringify(value)}`
  }
  return json
}

/** Writes one kind of info line of a logger, formatted by hand (see lineWriter). */
export interface LineWriter {
  /** Whether the logger writes info lines now (its level can change at run time). */
  enabled(): boolean
  /** Writes one line; `fields` is JSON members, each with a leading comma, never a secret. */
  write(fields: string): void
}

/**
 * A writer of info lines with message `msg` for a hot path: pino's info() serializes each field
 * through its generic path (redaction included), about 3 µs a line, as much as the rest of a token
 * GET. The line is byte for byte what `logger.info({...fields}, msg)` writes (level, ISO time, the
 * logger's bindings, the fields, msg; test/http/request-record.test.ts compares them), and goes to
 * the logger's own destination, so it stays in order with every other line. `logger` must come
 * from createLogger (or be a child of one).
 */
export function lineWriter(logger: BrokerLogger, msg: string): LineWriter {
  const destination = destinations.get(logger)
  if (!destination) throw new Error('lineWriter needs a logger made by createLogger (or its child)')
  const bindings = bindingsJson(logger)
  const head = `{"level":${logger.levels.values.info}`
  const tail = `,"msg":${JSON.stringify(msg)}}\n`
  const time = isoTimeField()
  return {
    enabled: () => logger.isLevelEnabled('info'),
    write: (fields) => destination.write(`${head}${time()}${bindings}${fields}${tail}`),
  }
}

/** pino's stdTimeFunctions.isoTime, computed once per millisecond rather than once per line. */
function isoTimeField(): () => string {
  let lastMs = -1
  let field = ''
  return () => {
    const now = Date.now()
    if (now !== lastMs) {
      lastMs = now
      field = `,"time":"${new Date(now).toISOString()}"`
    }
    return field
  }
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
