import { writeSync } from 'node:fs'
import type { BrokerConfig } from '../config/load.js'
import { digestMatches } from '../policy/authenticator.js'
import { sha256 } from '../config/key-digest.js'
import { maskUrlCredentialsIn, scrubSecrets } from '../observability/logger.js'

// "No uncaught error may print a config value." Errors are written never to carry a secret; this
// is the net under that rule for what escapes anyway (a library that puts its input in a message,
// a bug): the CLI reports an uncaught error as one scrubbed line on stderr and exits 1, never with
// Node's stack dump, which prints the error's properties (ioredis's Invalid URL carries the whole
// redis://:password@ URL in `input`).

const REDACTED = '[redacted]'
/** Client keys are at least 16 characters (config schema); shorter words are not hashed. */
const MIN_KEY_LENGTH = 16
/** Splits free text into words that could be a client key. */
const WORD_BREAK = /[\s"'`,;()[\]{}<>|/=&?:@]+/

const secretValues = new Set<string>()
const keyHashes: Buffer[] = []

/**
 * Remembers the secrets of a loaded config for the fatal line: app secrets and Redis passwords by
 * value, client and metrics keys by their SHA-256 (the config keeps no key itself).
 */
export function guardSecretsOf(config: BrokerConfig): void {
  for (const app of config.apps) if (app.secret !== '') secretValues.add(app.secret)
  if (config.store.kind === 'redis') {
    for (const node of config.store.nodes) for (const p of urlPasswords(node)) secretValues.add(p)
  }
  for (const client of config.clients) keyHashes.push(client.keyHash)
  if (config.metrics.keyHash) keyHashes.push(config.metrics.keyHash)
}

/** One line describing an uncaught error, with every secret the CLI knows of removed. */
export function describeFatal(error: unknown): string {
  const raw =
    error instanceof Error
      ? `${error.name}: ${error.message}${errorCode(error)}`
      : `uncaught value: ${String(error)}`
  let line = scrubSecrets(maskUrlCredentialsIn(raw.replace(/\s*\n\s*/g, ' ')))
  // Longest first: a secret that contains another is removed whole.
  for (const value of [...secretValues].sort((a, b) => b.length - a.length)) {
    line = line.split(value).join(REDACTED)
  }
  return line
    .split(WORD_BREAK)
    .filter((word) => isClientKey(word))
    .reduce((text, key) => text.split(key).join(REDACTED), line)
}

/** Writes the scrubbed line and exits 1 (buffered log lines are written at exit). */
export function reportFatal(error: unknown): never {
  try {
    writeSync(2, `wxbroker: fatal: ${describeFatal(error)}\n`)
  } finally {
    process.exit(1)
  }
}

/** Every uncaught exception and unhandled rejection of the CLI ends in reportFatal. */
export function installFatalHandlers(): void {
  process.on('uncaughtException', reportFatal)
  process.on('unhandledRejection', reportFatal)
}

function errorCode(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code
  return typeof code === 'string' ? ` (${code})` : ''
}

/** The password of a URL's user info, as written and percent-decoded; the URL may be invalid. */
function urlPasswords(url: string): string[] {
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^@]*)@/i.exec(url)?.[1]
  if (userinfo === undefined) return []
  const colon = userinfo.indexOf(':')
  const password = colon < 0 ? userinfo : userinfo.slice(colon + 1)
  if (password === '') return []
  try {
    return [password, decodeURIComponent(password)]
  } catch {
    return [password]
  }
}

function isClientKey(word: string): boolean {
  if (word.length < MIN_KEY_LENGTH || keyHashes.length === 0) return false
  const digest = sha256(word)
  return keyHashes.some((hash) => digestMatches(digest, hash))
}
