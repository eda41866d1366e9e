import { refusal, type Refusal } from './wechat-errors.js'

// The request-target of a gateway request, normalised or refused before anything else looks at
// it. WeChat's API paths are plain: segments of letters, digits and `_ . ~ -`. Anything else is
// refused (48001), so that no spelling of the path can reach another host or another path than
// the allow-list names: absolute-form (`http://host/…`) and authority-form targets, `//`, `.` and
// `..` segments, percent-encoding of any kind (`%2f`, `%5c`, `%2e`), `\`, `@`, a fragment, and
// empty or trailing segments. The upstream host is never taken from the request (proxy.ts).

export interface Target {
  path: string
  /** The raw query string after `?` ('' when none): forwarded as it came, but for the parameters the gateway sets. */
  query: string
}

const PATH = /^(\/[A-Za-z0-9_.~-]+)+$/
/** A `.` or `..` (or longer) segment. */
const DOT_SEGMENT = /\/\.+(\/|$)/
/** Printable ASCII; `#` never (a fragment is not sent to a server). */
const QUERY = /^[\x21-\x22\x24-\x7e]*$/

export function parseTarget(url: string | undefined): Target | Refusal {
  if (url === undefined || !url.startsWith('/')) {
    return refusal(48001, 'the request target must be a path (absolute-form is refused)')
  }
  const mark = url.indexOf('?')
  const path = mark === -1 ? url : url.slice(0, mark)
  const query = mark === -1 ? '' : url.slice(mark + 1)
  if (!PATH.test(path) || DOT_SEGMENT.test(path)) {
    return refusal(
      48001,
      'path refused: only letters, digits and _ . ~ - between single slashes, no . or .. segments, no percent-encoding'
    )
  }
  if (!QUERY.test(query)) {
    return refusal(47001, 'the query string holds characters outside printable ASCII, or a #')
  }
  return { path, query }
}

/** A query parameter's name as WeChat reads it (`+` is a space, %XX decoded); the raw text if malformed. */
function paramName(raw: string): string {
  if (!raw.includes('%') && !raw.includes('+')) return raw
  const plus = raw.replace(/\+/g, ' ')
  try {
    return decodeURIComponent(plus)
  } catch {
    return plus
  }
}

/** The last value percent-encoded: the proxy sets the same token on call after call. */
let last = { value: '', encoded: '' }

function encoded(value: string): string {
  if (value !== last.value) last = { value, encoded: encodeURIComponent(value) }
  return last.encoded
}

/**
 * `query` with every parameter named in `drop` or `set` removed (however its name is spelled:
 * `access%5Ftoken` is `access_token`), then each of `set` appended once with its value
 * percent-encoded. The others keep their order and their bytes.
 */
export function rewriteQuery(
  query: string,
  set: readonly (readonly [string, string])[],
  drop: readonly string[] = []
): string {
  const removed = (name: string): boolean =>
    drop.includes(name) || set.some(([setName]) => setName === name)
  let out = ''
  if (query !== '') {
    for (const pair of query.split('&')) {
      if (pair === '') continue
      const eq = pair.indexOf('=')
      if (removed(paramName(eq === -1 ? pair : pair.slice(0, eq)))) continue
      out += out === '' ? pair : `&${pair}`
    }
  }
  for (const [name, value] of set) out += `${out === '' ? '' : '&'}${name}=${encoded(value)}`
  return out
}
