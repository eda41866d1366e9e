import { parseURL } from 'ioredis/built/utils/index.js'
import { isHostName } from './host-name.js'

// URLs are checked with the parser that will use them, so that `check-config` passes exactly what
// `serve` can run: ioredis 6 reads a redis:// string with its own parseURL (WHATWG `new URL`, then
// decodeURIComponent on the user name and password, the path as the database number, query items
// as connection options); fetch reads the WeChat base URLs with `new URL`. A string either parser
// would throw on is refused here, with a reason that never repeats the URL (it may hold a password;
// the value shown next to the problem is masked by format-issues).

const PERCENT_FIX =
  'percent-encode them in the user name or password (/ as %2F, ? as %3F, # as %23)'
const PORT_FIX = 'the port must be a number from 1 to 65535'
const REDIS_URL_EXAMPLE = 'redis://127.0.0.1:6379/0'

/** Why `new URL` refused a string that starts with a scheme. */
function whyUnparsable(raw: string): string {
  const rest = raw.slice(raw.indexOf('://') + 3)
  const authorityEnd = rest.search(/[/?#]/)
  const authority = authorityEnd === -1 ? rest : rest.slice(0, authorityEnd)
  if (authorityEnd !== -1 && rest.indexOf('@', authorityEnd) !== -1) {
    return `is not a valid URL: a / ? or # comes before the @; ${PERCENT_FIX}`
  }
  const hostPort = authority.slice(authority.lastIndexOf('@') + 1)
  const port = /^(?:\[[^\]]*\]|[^:]*):(.*)$/.exec(hostPort)?.[1]
  if (port !== undefined && port !== '' && !(/^\d+$/.test(port) && Number(port) <= 65535)) {
    return `is not a valid URL: ${PORT_FIX}`
  }
  return 'is not a valid URL; check the host name and the port, and percent-encode special characters in a password'
}

/** A port that parsed (digits, at most 65535) can still be 0, which nothing listens on. */
function portProblem(port: string | undefined): string | undefined {
  if (port === undefined || port === '' || Number(port) >= 1) return undefined
  return `has port ${port}; ${PORT_FIX}`
}

/** Why ioredis would fail on this store.redis URL; undefined when it is fine. */
export function redisUrlProblem(raw: string): string | undefined {
  // Lower case only: ioredis turns TLS on for a string that starts with exactly "rediss://".
  if (!/^rediss?:\/\/\S+$/.test(raw)) {
    return `must be a redis:// or rediss:// URL, e.g. ${REDIS_URL_EXAMPLE}`
  }
  let parsed: Record<string, unknown>
  try {
    parsed = parseURL(raw)
  } catch (e) {
    if (e instanceof URIError) {
      return 'has a % in the user name or password that is not followed by two hex digits; write % as %25'
    }
    return whyUnparsable(raw)
  }
  if (raw.includes('#')) {
    return `has a fragment (#...); remove it, or write # in a password as %23`
  }
  // ioredis would take query items as connection options, over the broker's own.
  if (raw.includes('?')) {
    return 'has a query (?...); remove it: the password goes before the host, the database number in the path (/0), and wxbroker sets the connection options itself'
  }
  const host = parsed.host
  if (typeof host !== 'string' || host === '') {
    return `names no host; write one, e.g. ${REDIS_URL_EXAMPLE}`
  }
  if (!isHostName(host)) {
    return `has a host that is not an IP address or a host name; e.g. ${REDIS_URL_EXAMPLE}`
  }
  const port = portProblem(parsed.port as string | undefined)
  if (port !== undefined) return port
  const db = parsed.db as string | undefined
  if (db !== undefined && !(/^\d+$/.test(db) && Number.isSafeInteger(Number(db)))) {
    return `has a path that is not a database number; end the URL with /<number>, e.g. ${REDIS_URL_EXAMPLE}`
  }
  return undefined
}

/** The origin a WeChat base URL stands for, or why it cannot be one. */
export function parseBaseUrl(raw: string): { origin: string } | { problem: string } {
  if (!/^https?:\/\/\S+$/i.test(raw)) {
    return { problem: 'must be an http:// or https:// URL, e.g. https://api.weixin.qq.com' }
  }
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return { problem: whyUnparsable(raw) }
  }
  if (url.username !== '' || url.password !== '') {
    return {
      problem:
        'holds a user name or password; remove "user:password@" (WeChat authenticates with the appid and secret)',
    }
  }
  const port = portProblem(url.port)
  if (port !== undefined) return { problem: port }
  if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || /[?#]/.test(raw)) {
    return {
      problem:
        'has a path, query or fragment; give only the scheme, host and port, e.g. https://api.weixin.qq.com (wxbroker adds /cgi-bin/... itself)',
    }
  }
  return { origin: url.origin }
}
