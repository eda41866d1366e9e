/**
 * A minimal broker-shaped HTTP server for the client's tests: it speaks the wire contract of
 * design §4 as the daemon implements it (token, token/invalidate, jscode2session; errors as
 * {"error":{"code","message","request_id"[,"errcode","errmsg","rid"]}}, login errcodes as
 * 400/409/403/429) and gets its tokens and sessions from the real WeChat simulator. It is NOT the
 * broker: it refreshes in process (single flight, compare-and-set on invalidate) and counts
 * requests. Tests use the real daemon (helpers/real-broker.ts); the stub remains only for answers
 * the daemon cannot be made to give on cue: injected delays, 5xx answers with or without the
 * envelope, a replayed token, a body echoing the client key.
 */
import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type Scope = 'token:read' | 'token:invalidate' | 'login'

export interface BrokerStubOptions {
  /** The simulator's URL (stands in for api.weixin.qq.com). */
  wechatUrl: string
  apps: Array<{ appid: string; secret: string }>
  /** Client keys in plain text, with the apps and scopes each may use. */
  keys: Record<string, { apps: string[] | '*'; scopes: Scope[] }>
  /** Seconds kept back from WeChat's expires_in, like the broker's planned rotation. Default 300. */
  leadSeconds?: number
}

export interface InjectedFault {
  /** Answer with this status and body; without it, answer normally after `delayMs`. */
  status?: number
  body?: unknown
  headers?: Record<string, string>
  /** Delay before answering, in ms. */
  delayMs?: number
  /** How many requests get this answer. Default 1. */
  times?: number
}

export interface BrokerStubCounts {
  total: number
  token: number
  invalidate: number
  jscode2session: number
  /** Upstream token fetches (refreshes) the stub made. */
  refreshes: number
}

export interface BrokerStub {
  url: string
  counts: BrokerStubCounts
  /** The token the stub currently serves for `appid`, if any. */
  current(appid: string): string | undefined
  /** The next requests get this answer (or delay) instead, before any auth check. */
  inject(fault: InjectedFault): void
  close(): Promise<void>
}

interface TokenState {
  token: string
  expiresAt: number
}

interface AppState {
  secret: string
  current?: TokenState
  refreshing?: Promise<TokenState>
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
    readonly headers: Record<string, string> = {}
  ) {
    super(message)
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  const text = Buffer.concat(chunks).toString('utf8')
  if (text === '') return {}
  try {
    const json = JSON.parse(text) as unknown
    if (typeof json === 'object' && json !== null) return json as Record<string, unknown>
  } catch {
    // fall through
  }
  throw new HttpError(400, 'bad_request', 'body must be a JSON object')
}

// The daemon's mapping of login errcodes to statuses; anything else from WeChat is a 502.
const LOGIN_ERRORS: Record<number, { status: number; code: string; retryAfter?: number }> = {
  40029: { status: 400, code: 'invalid_code' },
  40163: { status: 409, code: 'code_used' },
  40226: { status: 403, code: 'code_blocked' },
  45011: { status: 429, code: 'rate_limited', retryAfter: 60 },
}

function wechatError(json: Record<string, unknown>, login: boolean): HttpError {
  const errmsg = typeof json.errmsg === 'string' ? json.errmsg : ''
  const errcode = json.errcode as number
  const mapped = login ? LOGIN_ERRORS[errcode] : undefined
  return new HttpError(
    mapped?.status ?? 502,
    mapped?.code ?? 'wechat_error',
    `WeChat answered errcode ${errcode}`,
    { errcode, errmsg, rid: /rid:\s*(\S+)/.exec(errmsg)?.[1] ?? null },
    mapped?.retryAfter === undefined ? {} : { 'retry-after': String(mapped.retryAfter) }
  )
}

export async function startBrokerStub(options: BrokerStubOptions): Promise<BrokerStub> {
  const lead = options.leadSeconds ?? 300
  const apps = new Map<string, AppState>(options.apps.map((a) => [a.appid, { secret: a.secret }]))
  const counts: BrokerStubCounts = {
    total: 0,
    token: 0,
    invalidate: 0,
    jscode2session: 0,
    refreshes: 0,
  }
  const faults: InjectedFault[] = []

  async function wechat(
    path: string,
    query: Record<string, string>
  ): Promise<Record<string, unknown>> {
    const url = `${options.wechatUrl}${path}?${new URLSearchParams(query).toString()}`
    const response = await fetch(url)
    const json = (await response.json()) as Record<string, unknown>
    if (typeof json.errcode === 'number' && json.errcode !== 0) {
      throw wechatError(json, path === '/sns/jscode2session')
    }
    return json
  }

  // Single flight per app: concurrent refreshes share one upstream call.
  function refresh(appid: string, app: AppState): Promise<TokenState> {
    app.refreshing ??= (async () => {
      counts.refreshes++
      const json = await wechat('/cgi-bin/token', {
        grant_type: 'client_credential',
        appid,
        secret: app.secret,
      })
      const state = {
        token: json.access_token as string,
        expiresAt: Date.now() + (json.expires_in as number) * 1000,
      }
      app.current = state
      return state
    })().finally(() => {
      app.refreshing = undefined
    })
    return app.refreshing
  }

  async function currentToken(appid: string, app: AppState): Promise<TokenState> {
    if (app.refreshing) return app.refreshing
    if (app.current && app.current.expiresAt - lead * 1000 > Date.now()) return app.current
    return refresh(appid, app)
  }

  function tokenBody(appid: string, state: TokenState): Record<string, unknown> {
    const expiresIn = Math.max(0, Math.floor((state.expiresAt - Date.now()) / 1000) - lead)
    return {
      appid,
      access_token: state.token,
      expires_in: expiresIn,
      expires_at: new Date(Date.now() + expiresIn * 1000).toISOString(),
    }
  }

  function authorize(req: IncomingMessage, appid: string, scope: Scope): AppState {
    const header = req.headers.authorization ?? ''
    const key = /^Bearer (.+)$/.exec(header)?.[1]
    const client = key === undefined ? undefined : options.keys[key]
    if (client === undefined)
      throw new HttpError(401, 'unauthorized', 'missing or unknown client key')
    const app = apps.get(appid)
    if (app === undefined) throw new HttpError(404, 'unknown_app', `unknown appid ${appid}`)
    if ((client.apps !== '*' && !client.apps.includes(appid)) || !client.scopes.includes(scope)) {
      throw new HttpError(403, 'forbidden', `this key may not use ${scope} on ${appid}`)
    }
    return app
  }

  async function route(req: IncomingMessage): Promise<Record<string, unknown>> {
    const url = new URL(req.url ?? '/', 'http://stub')
    const match = /^\/v1\/apps\/([^/]+)\/(token|token\/invalidate|jscode2session)$/.exec(
      url.pathname
    )
    if (match === null) throw new HttpError(404, 'not_found', `no route ${url.pathname}`)
    const appid = decodeURIComponent(match[1]!)
    const action = match[2]!
    if (action === 'token' && req.method === 'GET') {
      counts.token++
      const app = authorize(req, appid, 'token:read')
      return tokenBody(appid, await currentToken(appid, app))
    }
    if (action === 'token/invalidate' && req.method === 'POST') {
      counts.invalidate++
      const app = authorize(req, appid, 'token:invalidate')
      const body = await readBody(req)
      if (typeof body.access_token !== 'string') {
        throw new HttpError(400, 'bad_request', 'access_token: required string')
      }
      // Compare and refresh: only a report of the current token refreshes.
      const current = await currentToken(appid, app)
      const refreshed = body.access_token === current.token
      const state = refreshed ? await refresh(appid, app) : current
      return {
        refreshed,
        reason: refreshed ? 'refreshed' : 'stale_report',
        ...tokenBody(appid, state),
      }
    }
    if (action === 'jscode2session' && req.method === 'POST') {
      counts.jscode2session++
      const app = authorize(req, appid, 'login')
      const body = await readBody(req)
      if (typeof body.js_code !== 'string' || body.js_code === '') {
        throw new HttpError(400, 'bad_request', 'js_code: required string')
      }
      const json = await wechat('/sns/jscode2session', {
        appid,
        secret: app.secret,
        js_code: body.js_code,
        grant_type: 'authorization_code',
      })
      return {
        openid: json.openid,
        session_key: json.session_key,
        ...(typeof json.unionid === 'string' ? { unionid: json.unionid } : {}),
      }
    }
    throw new HttpError(405, 'method_not_allowed', `${req.method ?? '?'} not allowed here`)
  }

  function send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {}
  ): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    res.writeHead(status, {
      'content-type': typeof body === 'string' ? 'text/plain' : 'application/json',
      ...headers,
    })
    res.end(text)
  }

  const server = createServer((req, res) => {
    counts.total++
    const fault = faults[0]
    if (fault !== undefined) {
      fault.times = (fault.times ?? 1) - 1
      if (fault.times <= 0) faults.shift()
      const status = fault.status
      if (status !== undefined) {
        setTimeout(() => send(res, status, fault.body ?? '', fault.headers), fault.delayMs ?? 0)
        return
      }
    }
    const delay = fault?.delayMs ?? 0
    const routed = delay > 0 ? sleep(delay).then(() => route(req)) : route(req)
    routed.then(
      (body) => send(res, 200, body),
      (error: unknown) => {
        const e =
          error instanceof HttpError ? error : new HttpError(500, 'internal', 'stub failure')
        send(
          res,
          e.status,
          { error: { code: e.code, message: e.message, request_id: randomUUID(), ...e.extra } },
          e.headers
        )
      }
    )
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    current: (appid) => apps.get(appid)?.current?.token,
    inject: (fault) => faults.push({ ...fault }),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
