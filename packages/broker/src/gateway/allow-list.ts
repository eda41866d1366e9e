import { TOKEN_API } from '../engine/wechat-api.js'

// What the gateway forwards to WeChat: the one list of paths and methods (the broker README's
// table is checked against it), the paths it never forwards whatever the config says, and the
// pattern syntax shared by `gateway.allowPaths` and a client's `gatewayPaths`.

export type GatewayMethod = 'GET' | 'POST'

export interface AllowEntry {
  /** An exact path (`/wxa/msg_sec_check`) or a prefix (`/datacube/*`); the metrics' endpoint label. */
  pattern: string
  methods: readonly GatewayMethod[]
  /** What it is for (documentation only). */
  what: string
}

/** The token endpoints (WeChat's, engine/wechat-api.ts), answered by the gateway itself: never forwarded. */
export const TOKEN_PATHS = TOKEN_API

/** The login call: the gateway injects the app's real secret into it. */
export const LOGIN_PATH = '/sns/jscode2session'

const GET = ['GET'] as const
const POST = ['POST'] as const
const BOTH = ['GET', 'POST'] as const

/**
 * The Mini Program server API (shared/reference/wechat-api.md): user login and session keys,
 * phone numbers, subscribe messages and their templates, customer-service messages, codes and
 * links, content security, quota and rid look-ups, analytics. Every entry works with the app's
 * access_token and nothing else (the login with the secret the gateway injects); none manages the
 * account, its quota, its secret or third-party platforms.
 */
export const BUILT_IN_ALLOW_LIST: readonly AllowEntry[] = Object.freeze([
  { pattern: LOGIN_PATH, methods: GET, what: 'login (code2Session)' },
  { pattern: '/wxa/checksession', methods: GET, what: 'check a session_key' },
  { pattern: '/wxa/resetusersessionkey', methods: GET, what: 'reset a session_key' },
  { pattern: '/wxa/business/getuserencryptkey', methods: POST, what: "a user's encrypt key" },
  { pattern: '/wxa/getpaidunionid', methods: GET, what: 'unionid after a payment' },
  { pattern: '/wxa/business/getuserphonenumber', methods: POST, what: 'phone number' },
  { pattern: '/cgi-bin/message/subscribe/send', methods: POST, what: 'subscribe message' },
  { pattern: '/wxaapi/newtmpl/*', methods: BOTH, what: 'subscribe-message templates' },
  { pattern: '/cgi-bin/message/custom/send', methods: POST, what: 'customer-service message' },
  { pattern: '/cgi-bin/message/custom/typing', methods: POST, what: 'customer-service typing' },
  { pattern: '/wxa/getwxacode', methods: POST, what: 'Mini Program code (image)' },
  { pattern: '/wxa/getwxacodeunlimit', methods: POST, what: 'unlimited Mini Program code (image)' },
  { pattern: '/cgi-bin/wxaapp/createwxaqrcode', methods: POST, what: 'QR code (image)' },
  { pattern: '/wxa/generatescheme', methods: POST, what: 'URL scheme' },
  { pattern: '/wxa/queryscheme', methods: POST, what: 'URL scheme look-up' },
  { pattern: '/wxa/generatenfcscheme', methods: POST, what: 'NFC scheme' },
  { pattern: '/wxa/generate_urllink', methods: POST, what: 'URL link' },
  { pattern: '/wxa/query_urllink', methods: POST, what: 'URL link look-up' },
  { pattern: '/wxa/genwxashortlink', methods: POST, what: 'short link' },
  { pattern: '/wxa/msg_sec_check', methods: POST, what: 'text content security' },
  { pattern: '/wxa/media_check_async', methods: POST, what: 'media content security' },
  { pattern: '/wxa/getuserriskrank', methods: POST, what: 'user risk rank' },
  { pattern: '/cgi-bin/openapi/quota/get', methods: POST, what: 'API quota' },
  { pattern: '/cgi-bin/openapi/rid/get', methods: POST, what: 'rid look-up' },
  { pattern: '/datacube/*', methods: POST, what: 'analytics' },
] satisfies AllowEntry[])

/** Methods of `gateway.allowPaths` entries. */
const EXTRA_METHODS = BOTH

/**
 * Never forwarded, whatever the allow-list says: the token endpoints (answered locally; as
 * proxied paths they would spend quota and retire the broker's token), the quota resets (10 a
 * month; an admin's decision), and third-party-platform (component) APIs.
 */
const NEVER_FORWARDED = [
  /^\/cgi-bin\/(token|stable_token)(\/|$)/i,
  /^\/cgi-bin\/clear_quota/i,
  /^\/cgi-bin\/openapi\/quota\/clear(\/|$)/i,
  /(^|\/)component(\/|$)/i,
]

export function neverForwarded(path: string): boolean {
  return NEVER_FORWARDED.some((re) => re.test(path))
}

/** Segments of letters, digits and `_ . ~ -`, optionally ending in `/*`. */
const PATTERN = /^(\/[A-Za-z0-9_.~-]+)+(\/\*)?$/

/** Why `pattern` cannot be an allowPaths or gatewayPaths entry; undefined when it can. */
export function patternProblem(pattern: string): string | undefined {
  if (!PATTERN.test(pattern) || pattern.split('/').some((s) => /^\.+$/.test(s))) {
    return 'must be a path such as /wxa/msg_sec_check, or a prefix such as /datacube/* (letters, digits, _ . ~ - between slashes)'
  }
  if (neverForwarded(pattern.replace(/\/\*$/, ''))) {
    return 'is never forwarded (the token endpoints, clear_quota and component APIs); remove it'
  }
  return undefined
}

/** Whether `path` falls under `pattern` (exact, or below a `/prefix/*`). */
export function patternMatches(pattern: string, path: string): boolean {
  if (!pattern.endsWith('/*')) return pattern === path
  const prefix = pattern.slice(0, -1)
  return path.length > prefix.length && path.startsWith(prefix)
}

export class AllowList {
  private readonly exact = new Map<string, AllowEntry>()
  /** Longest prefix first, so the most specific entry names the endpoint. */
  private readonly prefixes: AllowEntry[]

  constructor(extraPatterns: readonly string[] = []) {
    const all: AllowEntry[] = [...BUILT_IN_ALLOW_LIST]
    for (const pattern of extraPatterns) {
      if (!all.some((e) => e.pattern === pattern)) {
        all.push({ pattern, methods: EXTRA_METHODS, what: 'gateway.allowPaths' })
      }
    }
    for (const e of all) if (!e.pattern.endsWith('/*')) this.exact.set(e.pattern, e)
    this.prefixes = all
      .filter((e) => e.pattern.endsWith('/*'))
      .sort((a, b) => b.pattern.length - a.pattern.length)
  }

  /** The entry a normalised path falls under, unless it is never forwarded. */
  match(path: string): AllowEntry | undefined {
    if (neverForwarded(path)) return undefined
    return this.exact.get(path) ?? this.prefixes.find((e) => patternMatches(e.pattern, path))
  }
}
