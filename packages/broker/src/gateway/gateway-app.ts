import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http'
import { randomUUID } from 'node:crypto'
import type { Registry } from 'prom-client'
import type { BrokerConfig, ClientConfig, GatewayConfig } from '../config/load.js'
import type { TokenEngine } from '../engine/types.js'
import { resolveRequestId } from '../http/request-id.js'
import { accessLineFields, accessLineWriter } from '../http/request-record.js'
import {
  createGatewayMetrics,
  UNKNOWN_CLIENT,
  type GatewayMetrics,
} from '../observability/gateway-metrics.js'
import { scrubSecrets, type BrokerLogger } from '../observability/logger.js'
import type { AccessPolicy } from '../policy/access-policy.js'
import { bearerToken } from '../policy/authenticator.js'
import type { RenderRefusal } from '../server/http-server.js'
import { aliasTokens } from './alias-tokens.js'
import { AllowList, LOGIN_PATH, patternMatches, TOKEN_PATHS } from './allow-list.js'
import { GatewayAuth, type Identified } from './gateway-auth.js'
import { Proxy, type ProxyOutcome } from './proxy.js'
import { RefetchGuard } from './refetch-guard.js'
import { parseTarget } from './target.js'
import {
  answerTokenFetch,
  classicFetch,
  stableFetch,
  type TokenEndpointDeps,
} from './token-endpoints.js'
import {
  gatewayRid,
  refusal,
  WECHAT_JSON,
  wechatErrorBody,
  type GatewayErrcode,
  type Refusal,
} from './wechat-errors.js'

// The gateway's second origin (design §10): one plain node:http listener, mounted at the path
// root, in front of the same engine, access policy and client keys as /v1. No framework: the
// routing is two exact paths and an allow-list, and a proxy wants the raw request and response to
// stream images through. Every request leaves one access line (endpoint, never the raw path or
// query; client; status; errcode; ms; request id) and its metrics; bodies are never logged.

/** The endpoint label of a request no allow-list entry took. */
export const REFUSED_ENDPOINT = 'refused'
/** The largest stable_token body read (the real one is about 150 bytes). */
const TOKEN_BODY_LIMIT = 16 * 1024
/** At most one warning of each kind per this interval (each request has its access line). */
const WARN_INTERVAL_MS = 60_000

export interface GatewayOptions {
  config: BrokerConfig
  gateway: GatewayConfig
  engine: TokenEngine
  policy: AccessPolicy
  registry: Registry
  logger: BrokerLogger
  now: () => number
}

export interface Gateway {
  listener: RequestListener
  /** Refusals of the HTTP server itself (malformed requests, timeouts), worded WeChat's way. */
  renderRefusal: RenderRefusal
  /** After the listener stopped taking requests: closes the pool once its calls are done. */
  close(): Promise<void>
  /** Cuts upstream calls still running (the drain timeout passed). */
  destroy(): Promise<void>
}

interface Handled {
  endpoint: string
  client: ClientConfig | null
  /** A refusal still to be written, or what was written. */
  result: Refusal | { body: string } | ProxyOutcome
  /** Answer and then close the connection (a body was left unread). */
  close?: boolean
}

export function createGateway(opts: GatewayOptions): Gateway {
  const { config, gateway, engine, policy, logger, now } = opts
  const metrics = createGatewayMetrics(opts.registry)
  const warn = throttledWarnings(logger)
  const aliases = aliasTokens(config.apps, config.clients)
  const auth = new GatewayAuth({
    policy,
    engine,
    apps: config.apps,
    aliases,
    onAppSecret: (appid) => {
      metrics.appSecretRefused(appid)
      warn(
        `secret:${appid}`,
        { appid },
        'a real AppSecret was sent to the gateway and refused (40125): give that caller a client key, and treat the secret as exposed'
      )
    },
  })
  const tokens: TokenEndpointDeps = {
    engine,
    auth,
    aliases,
    guard: new RefetchGuard(gateway.refetchGuard, now),
    metrics,
  }
  const secrets = new Map(config.apps.map((a) => [a.appid, a.secret]))
  const proxy = new Proxy({
    engine,
    baseUrl: config.wechat.baseUrl,
    secretOf: (appid) => secrets.get(appid) ?? '',
    settings: gateway,
  })
  const allowList = new AllowList(gateway.allowPaths)
  const record = recorder(logger, metrics)

  const route = async (
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string
  ): Promise<Handled> => {
    const target = parseTarget(req.url)
    if ('errcode' in target) return refused(REFUSED_ENDPOINT, target)
    const { path, query } = target
    const method = req.method ?? ''
    const bearer = bearerToken(req.headers.authorization)

    if (path === TOKEN_PATHS.classic) {
      if (method !== 'GET' && method !== 'POST') {
        return refused(path, refusal(43001, 'GET /cgi-bin/token'))
      }
      const out = await answerTokenFetch(
        tokens,
        classicFetch(new URLSearchParams(query), bearer),
        now()
      )
      return { endpoint: path, client: out.client ?? null, result: out.ok ? out : out.refusal }
    }
    if (path === TOKEN_PATHS.stable) {
      if (method !== 'POST') return refused(path, refusal(43002, 'POST a JSON body'))
      const body = await readBody(req, Math.min(TOKEN_BODY_LIMIT, gateway.maxBodyBytes))
      if (body === 'too_large') return tooLarge(path, TOKEN_BODY_LIMIT)
      const fetch = stableFetch(body, bearer)
      if ('errcode' in fetch) return refused(path, fetch)
      const out = await answerTokenFetch(tokens, fetch, now())
      return { endpoint: path, client: out.client ?? null, result: out.ok ? out : out.refusal }
    }

    const entry = allowList.match(path)
    if (!entry) {
      return refused(
        REFUSED_ENDPOINT,
        refusal(48001, 'this path is not forwarded (see the allow-list)')
      )
    }
    const endpoint = entry.pattern
    if (method !== 'GET' && method !== 'POST') {
      return refused(endpoint, refusal(43001, `${entry.methods.join(' or ')} only`))
    }
    if (!entry.methods.includes(method)) {
      const needed: GatewayErrcode = entry.methods.includes('POST') ? 43002 : 43001
      return refused(endpoint, refusal(needed, `${entry.methods.join(' or ')} only`))
    }
    const params = new URLSearchParams(query)
    const login = path === LOGIN_PATH
    const caller = identify(login, params, bearer)
    if (!('ok' in caller)) return refused(endpoint, caller)
    const client = caller.client
    if (client?.gatewayPaths && !client.gatewayPaths.some((p) => patternMatches(p, path))) {
      return {
        endpoint,
        client,
        result: refusal(48001, "this client's gatewayPaths do not include this path"),
      }
    }
    let body: Buffer | null = null
    if (method === 'POST') {
      const read = await readBody(req, gateway.maxBodyBytes)
      if (read === 'too_large') return { ...tooLarge(endpoint, gateway.maxBodyBytes), client }
      body = read
    }
    const result = await proxy.forward(
      {
        method,
        path,
        query,
        headers: req.headers,
        body,
        appid: caller.appid,
        login,
        reporter: client?.name,
        requestId,
      },
      res
    )
    if ('errcode' in result && result.errcode === -1) {
      warn(
        `upstream:${result.detail}`,
        { endpoint, detail: result.detail },
        'gateway: WeChat answer not passed on (answered -1)'
      )
    }
    return { endpoint, client, result }
  }

  /**
   * The caller and its app. The login takes the client key in `secret` (where SDKs put the
   * AppSecret), any access_token there being dropped; every other call the access_token, else a
   * bearer key. A key and an alias token of two different clients in one request are refused.
   */
  const identify = (
    login: boolean,
    params: URLSearchParams,
    bearer: string | undefined
  ): Identified => {
    const appid = params.get('appid') || undefined
    const token = params.get('access_token') || undefined
    const key = (login ? params.get('secret') || undefined : undefined) ?? bearer
    if (login && key !== undefined) {
      const byKey = auth.key(key, appid)
      if (!('ok' in byKey) || token === undefined) return byKey
      return sameClient(byKey, aliasClient(token))
    }
    if (token !== undefined) {
      const byToken = auth.token(token, now())
      if (!('ok' in byToken)) return byToken
      if (login && appid !== undefined && appid !== byToken.appid) {
        return refusal(40125, 'the access_token is not for this appid')
      }
      if (byToken.client === null || bearer === undefined) return byToken
      const byBearer = policy.client(bearer, 'gateway')
      return byBearer.ok ? sameClient(byToken, byBearer.client) : byToken
    }
    if (key !== undefined) return auth.key(key, appid)
    return login
      ? refusal(41004, 'send the client key in secret')
      : refusal(
          41001,
          'send the access_token from the gateway, or a client key as Authorization: Bearer'
        )
  }

  /** The client an alias token names, without judging it further (null for anything else). */
  const aliasClient = (token: string): ClientConfig | null => {
    const check = aliases.check(token, now())
    return check !== undefined && 'ok' in check ? check.client : null
  }

  const listener: RequestListener = (req, res) => {
    const start = performance.now()
    const given = req.headers['x-request-id']
    const requestId = resolveRequestId(typeof given === 'string' ? given : undefined)
    const method = req.method ?? ''
    route(req, res, requestId).then(
      (handled) => {
        const result = handled.result
        let status: number
        let errcode: string
        if ('status' in result) {
          ;({ status, errcode } = result)
        } else {
          const body =
            'body' in result ? result.body : wechatErrorBody(result, gatewayRid(requestId))
          answer(res, body, requestId, handled.close === true)
          status = 200
          errcode = 'body' in result ? '0' : String(result.errcode)
        }
        record(handled.endpoint, method, status, errcode, handled.client, start, requestId)
      },
      (error: unknown) => {
        // After the answer began (the caller went away mid-stream) there is nothing to say.
        if (res.headersSent) {
          res.destroy()
          logger.debug({ request_id: requestId }, 'gateway: answer cut short')
          return
        }
        logger.error(
          {
            err: { name: (error as Error).name, message: scrubSecrets((error as Error).message) },
            request_id: requestId,
          },
          'gateway: unhandled error'
        )
        answer(
          res,
          wechatErrorBody(refusal(-1, 'internal error'), gatewayRid(requestId)),
          requestId,
          false
        )
        record(REFUSED_ENDPOINT, method, 200, '-1', null, start, requestId)
      }
    )
  }

  return {
    listener,
    renderRefusal: (r) => ({
      status: 200,
      reason: 'OK',
      contentType: WECHAT_JSON,
      body: wechatErrorBody(
        refusal(r.status === 408 ? -1 : 47001, r.message),
        gatewayRid(randomUUID())
      ),
    }),
    close: () => proxy.close(),
    destroy: () => proxy.destroy(),
  }
}

function refused(endpoint: string, r: Refusal): Handled {
  return { endpoint, client: null, result: r }
}

function tooLarge(endpoint: string, limit: number): Handled {
  return {
    endpoint,
    client: null,
    result: refusal(45002, `the request body exceeds ${limit} bytes (gateway.maxBodyBytes)`),
    close: true,
  }
}

/** An alias token and a key of two different clients: the token was issued to someone else. */
function sameClient(
  caller: Extract<Identified, { ok: true }>,
  other: ClientConfig | null
): Identified {
  if (other === null || caller.client === null || other === caller.client) return caller
  return refusal(40125, 'the access_token was issued to another client')
}

/** Writes a gateway answer: HTTP 200, WeChat's JSON type; closes the connection when asked. */
function answer(res: ServerResponse, body: string, requestId: string, close: boolean): void {
  res.writeHead(200, {
    'x-request-id': requestId,
    'content-type': WECHAT_JSON,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(close ? { connection: 'close' } : {}),
  })
  res.end(body)
}

/**
 * The body of a POST, up to `limit` bytes; 'too_large' past it (by Content-Length before
 * anything is read, or once the bytes pass it), the rest then left unread.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | 'too_large'> {
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > limit) return Promise.resolve('too_large')
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const stop = (): void => {
      req.off('data', onData)
      req.off('end', onEnd)
      req.off('error', onError)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) {
        stop()
        req.pause()
        resolve('too_large')
      } else chunks.push(chunk)
    }
    const onEnd = (): void => {
      stop()
      resolve(Buffer.concat(chunks, size))
    }
    const onError = (error: Error): void => {
      stop()
      reject(error)
    }
    req.on('data', onData)
    req.once('end', onEnd)
    req.once('error', onError)
  })
}

/** The access line and metrics of one gateway request. */
function recorder(logger: BrokerLogger, metrics: GatewayMetrics) {
  const write = accessLineWriter(logger)
  const fields = new Map<string, string>()
  return (
    endpoint: string,
    method: string,
    status: number,
    errcode: string,
    client: ClientConfig | null,
    start: number,
    requestId: string
  ): void => {
    const seconds = (performance.now() - start) / 1000
    const series = metrics.series(client?.name ?? UNKNOWN_CLIENT, endpoint, errcode)
    series.count.inc()
    series.latency.observe(seconds)
    // Bounded like the metric labels: endpoints, methods Node knows, statuses, errcodes.
    const key = `${endpoint} ${method} ${status} ${errcode}`
    let f = fields.get(key)
    if (f === undefined) {
      const code = /^-?\d+$/.test(errcode) ? errcode : JSON.stringify(errcode)
      f = `${accessLineFields(endpoint, method, status)},"errcode":${code},"surface":"gateway"`
      fields.set(key, f)
    }
    write(f, seconds, client?.name ?? null, requestId)
  }
}

/** A warning per key at most once a minute, with how many were held back. */
function throttledWarnings(logger: BrokerLogger) {
  const last = new Map<string, { at: number; held: number }>()
  return (key: string, fields: Record<string, unknown>, message: string): void => {
    const now = performance.now()
    const seen = last.get(key)
    if (seen && now - seen.at < WARN_INTERVAL_MS) {
      seen.held++
      return
    }
    logger.warn({ ...fields, ...(seen ? { since_last: seen.held } : {}) }, message)
    last.set(key, { at: now, held: 0 })
  }
}
