import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  APP1,
  APP2,
  KEYS,
  SECRET1,
  SECRET2,
  startHarness,
  type Harness,
} from '../support/harness.js'
import { rawRequest, type RawResponse } from '../support/raw-http.js'

// Fuzzing the HTTP API of a running broker (real engine, simulator, sockets) with random methods,
// paths, headers and bodies, sent raw through node:http so that nothing normalises them. Every
// answer must be a documented status, every error the JSON envelope (the status page may answer
// with its HTML form), no 5xx but WeChat's 502 and the documented 503, no secret, key or token
// where it does not belong, and the broker must still serve a plain token GET afterwards.
//
// Requests stay well-formed HTTP/1.1: what Node's parser itself refuses (bad framing, oversized
// headers) never reaches the app and is the server's concern (src/server/server.ts). FUZZ_RUNS and
// FUZZ_SEED replay or lengthen a run.

const RUNS = Number(process.env.FUZZ_RUNS ?? 1200)
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED)

/** The README's error table, plus 200 and the status page's 303 after a sign-in or out. */
const DOCUMENTED = new Set([200, 303, 400, 401, 403, 404, 405, 409, 413, 429, 502, 503])
const WECHAT_CODES = 40

// Placeholders the generators use for values known only at run time.
const TOKEN = '@TOKEN@'
const CODE = '@CODE@'
const COOKIE = '@COOKIE@'

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const KEY_VALUES = Object.values(KEYS)
/** Keys whose 200 answers may carry a token (token:read, token:invalidate, admin). */
const TOKEN_KEYS = [
  KEYS.reader,
  KEYS.invalidator,
  KEYS.admin,
  KEYS.all,
  KEYS.otherApp,
  KEYS.app1Admin,
]

interface FuzzRequest {
  method: string
  path: string
  headers: Record<string, string>
  body: { chunks: string[]; encoding: BufferEncoding; chunked: boolean } | null
}

// ---- generators ------------------------------------------------------------------------------
// Weighted so that most requests are nearly right (a known route, a real appid, a valid key, a
// JSON body) and reach the handlers, while the odd ones still come often.

/** `usual` most of the time, else one of `odd`. */
function mostly<T>(usual: fc.Arbitrary<T>, ...odd: fc.Arbitrary<T>[]): fc.Arbitrary<T> {
  return fc.oneof({ weight: 4 * odd.length, arbitrary: usual }, ...odd)
}
/** Present in about `tenths` of ten requests, else undefined. */
const sometimes = <T>(a: fc.Arbitrary<T>, tenths: number) =>
  fc.oneof(
    { weight: 10 - tenths, arbitrary: fc.constant(undefined) },
    { weight: tenths, arbitrary: a }
  )

/** Printable ASCII without space: what a request target may hold on the wire. */
const targetChar = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c))
/** Header values: printable ASCII (what node:http lets through). */
const headerText = (maxLength: number) =>
  fc.string({
    unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
    maxLength,
  })

const segment = mostly(
  fc.constantFrom(APP1, APP2),
  fc.constantFrom(
    'wx00000000000000ff',
    'wx00000000000000a1a',
    'WX00000000000000A1',
    '',
    '.',
    '..',
    '%2e%2e',
    '%2F',
    '%00',
    '%ff',
    '%zz',
    '%',
    '%e4%b8%ad',
    'wx00000000000000a1%2f..',
    '\\',
    '..\\..',
    ';',
    '*'
  ),
  fc.string({ unit: targetChar, maxLength: 24 }).map((s) => s.replace(/[?#]/g, '')),
  fc.integer({ min: 200, max: 5000 }).map((n) => 'a'.repeat(n))
)

const TEMPLATES = [
  '/v1/apps/{}/token',
  '/v1/apps/{}/token/invalidate',
  '/v1/apps/{}/token/refresh',
  '/v1/apps/{}/jscode2session',
]
const ODD_TEMPLATES = ['/v1/apps/{}', '/v1/{}/token', '/{}', '/v1/apps/{}/token/{}']
const FIXED = [
  '/v1/apps',
  '/healthz',
  '/readyz',
  '/metrics',
  '/openapi.json',
  '/status',
  '/status/login',
  '/status/logout',
]
const ODD_FIXED = ['/', '/v1', '/v1/', '/readyz?strict=true', '/status/', '/metrics/']

const suffix = mostly(
  fc.constant(''),
  fc.constantFrom(
    '/',
    '//',
    '?',
    '?x=1',
    `?access_token=${TOKEN}`,
    '#frag',
    '/..',
    '/../healthz',
    '/./',
    '%20',
    '?a=%zz&b'
  )
)
const prefix = mostly(
  fc.constant(''),
  fc.constantFrom('/', '/.', '/v1/apps/..', '/x/..', '/%2e', '/V1/..')
)

const path = fc
  .tuple(
    prefix,
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc
          .tuple(fc.constantFrom(...TEMPLATES), segment)
          .map(([t, s]) => t.replace('{}', () => s)),
      },
      { weight: 4, arbitrary: fc.constantFrom(...FIXED) },
      fc
        .tuple(fc.constantFrom(...ODD_TEMPLATES), segment, segment)
        .map(([t, a, b]) => t.replace('{}', () => a).replace('{}', () => b)),
      fc.constantFrom(...ODD_FIXED),
      fc.array(segment, { minLength: 1, maxLength: 4 }).map((segments) => `/${segments.join('/')}`),
      fc.constantFrom(...FIXED, ...TEMPLATES).map((p) => p.replace('{}', APP1).toUpperCase())
    ),
    suffix
  )
  .map(([p, body, s]) => `${p}${body}${s}`)

// llhttp's methods (an unknown one is refused by Node's parser, before the app), CONNECT aside.
const method = mostly(
  fc.constantFrom('GET', 'POST', 'HEAD'),
  fc.constantFrom(
    'PUT',
    'DELETE',
    'PATCH',
    'OPTIONS',
    'TRACE',
    'PROPFIND',
    'PURGE',
    'LOCK',
    'SEARCH',
    'REPORT',
    'M-SEARCH',
    'QUERY'
  )
)

const key = fc.constantFrom(...KEY_VALUES)
const authorization = sometimes(
  mostly(
    key.map((k) => `Bearer ${k}`),
    key.map((k) => `bearer \t${k}  `),
    key.map((k) => `Basic ${k}`),
    key,
    key.map((k) => `Bearer ${k} ${k}`),
    key.map((k) => `Bearer ${k.slice(0, -1)}`),
    fc.constantFrom('Bearer', 'Bearer ', '', 'Basic dXNlcjpwYXNz', `Bearer ${TOKEN}`),
    headerText(80).map((s) => `Bearer ${s}`),
    fc.integer({ min: 1000, max: 8000 }).map((n) => `Bearer ${'k'.repeat(n)}`)
  ),
  8
)

const contentType = sometimes(
  mostly(
    fc.constantFrom('application/json', 'application/x-www-form-urlencoded'),
    fc.constantFrom(
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json; charset=utf-16',
      'application/json;charset=latin1',
      'application/problem+json',
      'text/plain',
      'text/html',
      'application/x-www-form-urlencoded; charset=utf-8',
      'multipart/form-data; boundary=xyz',
      'multipart/form-data',
      '',
      'application/jsonx',
      '*/*',
      ';;;'
    )
  ),
  8
)

const otherHeaders = fc.record({
  'x-request-id': sometimes(
    fc.oneof(fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/), headerText(300)),
    3
  ),
  cookie: sometimes(
    mostly(
      fc.constant(`wxb_status=${COOKIE}`),
      fc.constant(`a=1; wxb_status=${COOKIE}; b=2`),
      headerText(60).map((v) => `wxb_status=${v}`),
      fc.constant('wxb_status=%zz'),
      fc.constant('wxb_status="unterminated'),
      headerText(100)
    ),
    3
  ),
  host: sometimes(
    fc.oneof(
      fc.constantFrom('localhost', 'a b', 'x@y', ':99999', 'h:abc', '[::1]', 'ex\\ample', ''),
      headerText(40)
    ),
    1
  ),
  'x-forwarded-proto': sometimes(fc.constantFrom('https', 'http', 'https, http', 'gopher'), 1),
  forwarded: sometimes(fc.constantFrom('proto=https', 'for=1.2.3.4;proto=http', 'garbage'), 1),
  accept: sometimes(fc.constantFrom('*/*', 'text/html', 'application/json', ''), 1),
  'accept-encoding': sometimes(fc.constantFrom('gzip', 'br, deflate', 'identity;q=0'), 1),
  origin: sometimes(fc.constantFrom('http://evil.example', 'null'), 1),
})

const tokenValue = mostly<unknown>(
  fc.constant(TOKEN),
  fc.string({ maxLength: 40 }),
  fc.integer({ min: 500, max: 20_000 }).map((n) => 't'.repeat(n)),
  fc.integer(),
  fc.constant(null)
)

const jsonText = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .record(
        {
          access_token: tokenValue,
          errcode: mostly<unknown>(
            fc.constantFrom(40001, 40014, 42001),
            fc.integer(),
            fc.double(),
            fc.string()
          ),
        },
        { requiredKeys: ['access_token'] }
      )
      .map((o) => JSON.stringify(o)),
  },
  {
    weight: 4,
    arbitrary: mostly<unknown>(
      fc.constant(CODE),
      fc.string({ maxLength: 40 }),
      fc.integer({ min: 100, max: 20_000 }).map((n) => 'c'.repeat(n)),
      fc.integer()
    ).map((code) => JSON.stringify({ js_code: code })),
  },
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v) ?? 'null'),
  fc.constant('{"__proto__":{"x":1},"constructor":{"prototype":{}}}'),
  fc.constant('['.repeat(5000) + ']'.repeat(5000)),
  fc.constant('{"access_token":"a","access_token":1}'),
  fc.constant('{"access_token": ')
)

const bodyText = mostly(
  jsonText,
  fc.string({ maxLength: 200 }),
  key.map((k) => `key=${encodeURIComponent(k)}`),
  fc.constant(`key=${KEYS.admin}&key=${KEYS.reader}`),
  headerText(60).map((s) => `key=${s}`),
  fc.integer({ min: 17_000, max: 70_000 }).map((n) => `{"access_token":"${'a'.repeat(n)}"}`)
)

const body = sometimes(
  fc.record({
    text: bodyText,
    encoding: mostly(
      fc.constant<BufferEncoding>('utf8'),
      fc.constantFrom<BufferEncoding>('utf16le', 'latin1', 'base64')
    ),
    splits: fc.array(fc.nat(), { maxLength: 3 }),
    chunked: fc.boolean(),
    bom: fc.nat(4).map((n) => n === 0),
  }),
  6
)

/** Requests as a client would send them (the right route, key, content type and body shape). */
const app = fc.constantFrom(APP1, APP2)
const json = (text: string) => ({ chunks: [text], encoding: 'utf8' as const, chunked: false })
const coherent: fc.Arbitrary<Omit<FuzzRequest, 'headers'> & { key?: string; type?: string }> =
  fc.oneof(
    fc.record({
      method: fc.constant('GET'),
      path: app.map((a) => `/v1/apps/${a}/token`),
      key: fc.constantFrom(KEYS.reader, KEYS.all, KEYS.otherApp),
      body: fc.constant(null),
    }),
    fc.record({
      method: fc.constant('POST'),
      path: app.map((a) => `/v1/apps/${a}/token/invalidate`),
      key: fc.constantFrom(KEYS.invalidator, KEYS.all),
      type: fc.constant('application/json'),
      body: jsonText.map(json),
    }),
    fc.record({
      method: fc.constant('POST'),
      path: app.map((a) => `/v1/apps/${a}/jscode2session`),
      key: fc.constantFrom(KEYS.login, KEYS.all, KEYS.otherApp),
      type: fc.constant('application/json'),
      body: jsonText.map(json),
    }),
    fc.record({
      method: fc.constant('POST'),
      path: app.map((a) => `/v1/apps/${a}/token/refresh`),
      key: fc.constantFrom(KEYS.admin, KEYS.all, KEYS.app1Admin),
      body: fc.constant(null),
    }),
    fc.record({
      method: fc.constantFrom('GET', 'HEAD'),
      path: fc.constantFrom('/v1/apps', '/status'),
      key: fc.constantFrom(KEYS.admin, KEYS.app1Admin, KEYS.reader),
      body: fc.constant(null),
    }),
    fc.record({
      method: fc.constant('POST'),
      path: fc.constant('/status/login'),
      type: fc.constant('application/x-www-form-urlencoded'),
      body: bodyText.map(json),
    })
  )

const randomRequest = fc.record({ method, path, authorization, contentType, otherHeaders, body })
const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc
  .oneof(
    { weight: 1, arbitrary: randomRequest },
    {
      weight: 1,
      arbitrary: fc.record({ c: coherent, otherHeaders }).map(({ c, otherHeaders }) => ({
        method: c.method,
        path: c.path,
        authorization: c.key === undefined ? undefined : `Bearer ${c.key}`,
        contentType: c.type,
        otherHeaders,
        body: null,
        coherentBody: c.body,
      })),
    }
  )
  .map((g) => {
    const headers: Record<string, string> = {}
    for (const [name, value] of Object.entries(g.otherHeaders)) {
      if (value !== undefined) headers[name] = value
    }
    if (g.authorization !== undefined) headers.authorization = g.authorization
    if (g.contentType !== undefined) headers['content-type'] = g.contentType
    let fuzzBody: FuzzRequest['body'] = 'coherentBody' in g ? g.coherentBody : null
    if (g.body) {
      const text = (g.body.bom ? '\uFEFF' : '') + g.body.text
      const cuts = [...new Set(g.body.splits.map((n) => n % (text.length + 1)))].sort(
        (a, b) => a - b
      )
      const chunks: string[] = []
      let at = 0
      for (const cut of [...cuts, text.length]) {
        chunks.push(text.slice(at, cut))
        at = cut
      }
      fuzzBody = { chunks, encoding: g.body.encoding, chunked: g.body.chunked }
    }
    return { method: g.method, path: g.path, headers, body: fuzzBody }
  })
  // Node answers a request head above 16 KiB with its own 431 before the app: the server's concern.
  .filter((r) => r.path.length + Object.values(r.headers).join('').length < 12_000)

// ---- the running broker --------------------------------------------------------------------------

let h: Harness
/** Values known at run time, for the placeholders. */
const live = { token: '', cookie: '', codes: [] as string[], codeIndex: 0 }
const sessionKeys: string[] = []

beforeAll(async () => {
  h = await startHarness({
    config: { statusPage: { enabled: true, requireAdmin: true } },
  })
  for (let i = 0; i < WECHAT_CODES; i++) {
    const sessionKey = Buffer.from(`fuzz-session-key-${String(i).padStart(3, '0')}`).toString(
      'base64'
    )
    sessionKeys.push(sessionKey)
    const code = `fuzz-code-${i}`
    live.codes.push(code)
    await h.sim.admin.registerLoginCode({
      appid: i % 2 === 0 ? APP1 : APP2,
      code,
      openid: `o-fuzz-${i}`,
      sessionKey,
    })
  }
  const token = await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.reader })
  live.token = ((await token.json()) as { access_token: string }).access_token
  const signIn = await h.fetch('/status/login', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: `key=${KEYS.admin}`,
    redirect: 'manual',
  })
  live.cookie = /wxb_status=([^;]+)/.exec(signIn.headers.get('set-cookie') ?? '')?.[1] ?? ''
  expect(live.cookie).not.toBe('')
})
afterAll(async () => {
  await h.close()
})

function fill(text: string): string {
  return text
    .replaceAll(TOKEN, live.token)
    .replaceAll(COOKIE, live.cookie)
    .replaceAll(CODE, () => live.codes[live.codeIndex++ % live.codes.length] ?? 'none')
}

function send(r: FuzzRequest): Promise<RawResponse> {
  return rawRequest(h.url, {
    method: r.method,
    path: fill(r.path),
    headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, fill(v)])),
    body: r.body && {
      chunks: r.body.chunks.map((c) => Buffer.from(fill(c), r.body?.encoding)),
      chunked: r.body.chunked,
    },
  })
}

// ---- the properties -------------------------------------------------------------------------------

interface Exchange {
  req: FuzzRequest
  res: RawResponse
}
const exchanges: Exchange[] = []

/** The path the app routes on: node-server resolves dot segments as a URL does. */
function routedPath(rawPath: string): string {
  try {
    return new URL(rawPath, 'http://x').pathname
  } catch {
    return rawPath
  }
}

function describeExchange({ req, res }: Exchange): string {
  // Long generated values are cut in the middle: the shape is what matters in a report.
  const cut = (v: string) =>
    v.length > 120 ? `${v.slice(0, 60)}…(${v.length})…${v.slice(-40)}` : v
  const shown = {
    method: req.method,
    path: cut(req.path),
    headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, cut(v)])),
    body: req.body && { ...req.body, chunks: req.body.chunks.map(cut) },
  }
  return `${JSON.stringify(shown)}\n→ ${res.status} ${res.rawHeaders}\n${cut(res.body.toString())}`
}

/** The answer alone: status, envelope and 5xx rules. */
function checkAnswer(ex: Exchange): void {
  const { req, res } = ex
  const where = describeExchange(ex)
  expect(DOCUMENTED.has(res.status), `undocumented status\n${where}`).toBe(true)
  const requestId = res.headers['x-request-id']
  expect(typeof requestId, `no X-Request-Id\n${where}`).toBe('string')

  const statusPage = routedPath(fill(req.path)).startsWith('/status')
  if (res.status === 303) {
    expect(statusPage && req.method === 'POST', `303 off the status page\n${where}`).toBe(true)
    expect(res.headers.location, where).toBe('/status')
  }
  if (res.status < 300 || res.status === 303 || req.method === 'HEAD') return

  const type = res.headers['content-type'] ?? ''
  if (statusPage && type.startsWith('text/html')) {
    expect(res.body.toString(), `status page error without its form\n${where}`).toContain(
      'action="/status/login"'
    )
    return
  }
  expect(type, `error not JSON\n${where}`).toMatch(/^application\/json/)
  let envelope: { error?: Record<string, unknown> }
  try {
    envelope = JSON.parse(res.body.toString()) as typeof envelope
  } catch {
    throw new Error(`error body is not JSON\n${where}`)
  }
  const error = envelope.error
  expect(typeof error?.code, `no error.code\n${where}`).toBe('string')
  expect(typeof error?.message, `no error.message\n${where}`).toBe('string')
  expect(error?.request_id, `error.request_id differs from X-Request-Id\n${where}`).toBe(requestId)
  if (res.status >= 500) {
    const allowed =
      (res.status === 503 &&
        ['token_unavailable', 'store_unavailable'].includes(String(error?.code))) ||
      (res.status === 502 && error?.code === 'wechat_error' && typeof error.errcode === 'number')
    expect(allowed, `a 5xx that is not WeChat's 502 or the documented 503\n${where}`).toBe(true)
  }
}

/** No secret or key anywhere; a token or session key only where an authorized read put it. */
function checkLeaks(ex: Exchange, tokens: readonly string[]): void {
  const { req, res } = ex
  const where = describeExchange(ex)
  const text = `${res.rawHeaders}\n${res.body.toString('latin1')}`
  for (const secret of [SECRET1, SECRET2, ...KEY_VALUES, ...KEY_VALUES.map(sha256)]) {
    expect(text.includes(secret), `a secret or client key in the answer\n${where}`).toBe(false)
  }
  let parsed: Record<string, unknown> | undefined
  try {
    parsed = JSON.parse(res.body.toString()) as Record<string, unknown>
  } catch {
    parsed = undefined
  }
  const auth = fill(req.headers.authorization ?? '')
  const tokenReader = TOKEN_KEYS.some((k) => auth.includes(k))
  for (const token of tokens) {
    if (!text.includes(token)) continue
    const authorized = res.status === 200 && tokenReader && parsed?.access_token === token
    const elsewhere = text.split(token).length - 1 > 1 || res.rawHeaders.includes(token)
    expect(authorized && !elsewhere, `a token outside an authorized token answer\n${where}`).toBe(
      true
    )
  }
  for (const sessionKey of sessionKeys) {
    if (!text.includes(sessionKey)) continue
    const authorized =
      res.status === 200 &&
      [KEYS.login, KEYS.all, KEYS.otherApp].some((k) => auth.includes(k)) &&
      parsed?.session_key === sessionKey
    expect(authorized, `a session key outside an authorized login\n${where}`).toBe(true)
  }
}

async function issuedTokens(): Promise<string[]> {
  const all = await Promise.all(
    (
      [
        [APP1, 'stable'],
        [APP2, 'classic'],
      ] as const
    ).map(([appid, kind]) => h.sim.admin.tokens(appid, kind))
  )
  return all.flatMap((t) => t.all.map((r) => r.token))
}

describe('HTTP API fuzzing (fast-check, against a running broker)', () => {
  it('answers every random request with a documented status and the envelope, and leaks nothing', async () => {
    await fc.assert(
      fc.asyncProperty(fuzzRequest, async (req) => {
        const res = await send(req)
        const ex = { req, res }
        exchanges.push(ex)
        checkAnswer(ex)
        // Keep the placeholder current when an answer (a refresh) changed the token.
        const parsed = /"access_token":"([^"]+)"/.exec(res.body.toString())?.[1]
        if (res.status === 200 && parsed) live.token = parsed
      }),
      { numRuns: RUNS, ...(SEED === undefined ? {} : { seed: SEED }), endOnFailure: true }
    )
  }, 120_000)

  it('no answer and no log line holds a secret, a client key or a token it should not', async () => {
    const tokens = await issuedTokens()
    for (const ex of exchanges) checkLeaks(ex, tokens)
    const logs = h.logs.join('')
    for (const secret of [SECRET1, SECRET2, ...KEY_VALUES, ...tokens, ...sessionKeys]) {
      expect(logs.includes(secret), `logs hold ${secret.slice(0, 6)}…`).toBe(false)
    }
    expect(logs).not.toContain('unhandled error')
  })

  it('reached the handlers: the generators are not all noise', () => {
    const count = (status: number, method: string, route: RegExp) =>
      exchanges.filter(
        ({ req, res }) =>
          res.status === status && req.method === method && route.test(routedPath(req.path))
      ).length
    const app = 'wx00000000000000a[12]'
    expect(count(200, 'GET', new RegExp(`^/v1/apps/${app}/token$`))).toBeGreaterThan(0)
    expect(count(200, 'POST', new RegExp(`^/v1/apps/${app}/token/invalidate$`))).toBeGreaterThan(0)
    expect(count(200, 'POST', new RegExp(`^/v1/apps/${app}/jscode2session$`))).toBeGreaterThan(0)
    expect(count(303, 'POST', /^\/status\/login$/)).toBeGreaterThan(0)
    const statuses = new Set(exchanges.map((e) => e.res.status))
    for (const status of [400, 401, 403, 404, 405, 429]) expect(statuses).toContain(status)
  })

  it('still serves a plain token GET afterwards', async () => {
    const res = await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.reader })
    expect(res.status).toBe(200)
    const body = (await res.json()) as { access_token: string }
    expect(body.access_token).toBe((await h.sim.admin.tokens(APP1, 'stable')).current)
    expect((await h.fetch('/readyz')).status).toBe(200)
  })
})
