import { EventEmitter } from 'node:events'
import type { IncomingHttpHeaders, ServerResponse } from 'node:http'
import type { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { Pool } from 'undici'
import type { GatewayConfig } from '../config/load.js'
import type { TokenEngine } from '../engine/types.js'
import { isTokenRejection } from '../engine/wechat-errors.js'
import { rewriteQuery } from './target.js'
import { engineRefusal, refusal, type Refusal } from './wechat-errors.js'

// The allow-listed proxy (design §10): a call the gateway has already accepted (target, allow
// list, caller, body size: gateway-app.ts) goes to the configured WeChat origin, never to a host
// taken from the request, over a pool of kept-alive connections (undici). The broker sets the
// app's current access_token (every access_token the caller sent is replaced by exactly one), or
// for the login the app's real secret. Redirects are not followed. Only a few request headers go
// up (never Authorization, cookies, X-Forwarded-* or hop-by-hop headers), and status,
// Content-Type and body come back as WeChat sent them; non-JSON answers (the code images) stream
// through unbuffered. JSON answers are read (up to a cap) for their errcode: on 40001/40014/42001
// the broker runs compare-and-refresh with the token it used and sends the call once more with
// the new token. What the gateway cannot pass on (no answer in time, a redirect, a 5xx page) is
// answered WeChat's way, HTTP 200 with −1, because SDKs put the URL of a non-2xx answer, token
// included, into their error messages.

/** Request headers sent on to WeChat; every other header stays behind. */
const FORWARDED_REQUEST_HEADERS = ['content-type', 'accept', 'accept-language', 'user-agent']
/** Response headers passed back besides the status and body. */
const PASSED_RESPONSE_HEADERS = [
  'content-type',
  'content-encoding',
  'content-disposition',
  'cache-control',
]
/** JSON answers larger than this are streamed without reading their errcode. */
const JSON_INSPECT_LIMIT = 1024 * 1024

export interface ProxyCall {
  method: 'GET' | 'POST'
  path: string
  /** The raw query as the caller sent it. */
  query: string
  headers: IncomingHttpHeaders
  body: Buffer | null
  appid: string
  /** The login: the app's secret is injected; never retried (codes are single-use). */
  login: boolean
  /** For the engine's per-client report bound; undefined for a call made with a real token. */
  reporter: string | undefined
  /** Sent back as X-Request-Id (in writeHead's own object: no setHeader before it). */
  requestId: string
}

/** What was answered: the HTTP status sent and the errcode label ('0' for images and successes). */
export interface ProxyOutcome {
  status: number
  errcode: string
}

export interface ProxyDeps {
  engine: TokenEngine
  /** The configured WeChat origin (wechat.baseUrl). */
  baseUrl: string
  secretOf: (appid: string) => string
  settings: Pick<GatewayConfig, 'timeoutMs' | 'connections'>
}

export class Proxy {
  private readonly pool: Pool

  constructor(private readonly deps: ProxyDeps) {
    const { timeoutMs, connections } = deps.settings
    this.pool = new Pool(deps.baseUrl, {
      connections,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      connect: { timeout: timeoutMs },
    })
  }

  /**
   * Sends the call (and its one retry) and writes WeChat's answer to `res`; returns a refusal
   * instead, with nothing written, when there is no answer to pass on.
   */
  async forward(call: ProxyCall, res: ServerResponse): Promise<ProxyOutcome | Refusal> {
    let token: string
    try {
      token = (
        this.deps.engine.peekToken(call.appid) ?? (await this.deps.engine.getToken(call.appid))
      ).accessToken
    } catch (error) {
      return engineRefusal(error)
    }
    // The caller going away ends the upstream call too.
    const callerGone = new CallerGone()
    const onClose = (): void => {
      if (!res.writableFinished) callerGone.abort()
    }
    res.once('close', onClose)
    try {
      for (let attempt = 1; ; attempt++) {
        const answer = await this.send(call, token, callerGone)
        if ('errcode' in answer) return answer
        const { statusCode, headers, body } = answer
        if (statusCode >= 300 && statusCode < 400) {
          discard(body)
          return refusal(-1, `WeChat answered HTTP ${statusCode}; the gateway follows no redirect`)
        }
        if (statusCode >= 500) {
          discard(body)
          return refusal(-1, `WeChat answered HTTP ${statusCode}`)
        }
        if (!inspectable(headers)) {
          res.writeHead(statusCode, passedHeaders(headers, call.requestId, true))
          await pipeline(body, res)
          return { status: statusCode, errcode: statusCode < 300 ? '0' : `http_${statusCode}` }
        }
        const { buffered, more } = await collect(body, JSON_INSPECT_LIMIT)
        if (more) {
          res.writeHead(statusCode, passedHeaders(headers, call.requestId, true))
          res.write(buffered)
          await pipeline(body, res)
          return { status: statusCode, errcode: '0' }
        }
        const errcode = errcodeOf(buffered)
        if (attempt === 1 && !call.login && errcode !== undefined && isTokenRejection(errcode)) {
          const fresh = await this.freshToken(call, token, errcode)
          if (fresh !== undefined) {
            token = fresh
            continue
          }
        }
        const answerHeaders = passedHeaders(headers, call.requestId, false)
        answerHeaders['content-length'] = String(buffered.length)
        res.writeHead(statusCode, answerHeaders)
        res.end(buffered)
        return {
          status: statusCode,
          errcode:
            errcode === undefined
              ? statusCode < 300
                ? '0'
                : `http_${statusCode}`
              : String(errcode),
        }
      }
    } finally {
      res.off('close', onClose)
    }
  }

  /** Stops taking calls; those in flight finish. */
  close(): Promise<void> {
    return this.pool.close()
  }

  /** Cuts the calls still in flight (after the drain timeout). */
  destroy(): Promise<void> {
    return this.pool.destroy()
  }

  private async send(
    call: ProxyCall,
    token: string,
    signal: CallerGone
  ): Promise<{ statusCode: number; headers: IncomingHttpHeaders; body: Readable } | Refusal> {
    const query = call.login
      ? rewriteQuery(
          call.query,
          [
            ['appid', call.appid],
            ['secret', this.deps.secretOf(call.appid)],
          ],
          ['access_token']
        )
      : rewriteQuery(call.query, [['access_token', token]])
    const headers: Record<string, string> = {}
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = call.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    try {
      const answer = await this.pool.request({
        method: call.method,
        path: `${call.path}?${query}`,
        headers,
        body: call.method === 'POST' ? (call.body ?? Buffer.alloc(0)) : null,
        signal,
      })
      return {
        statusCode: answer.statusCode,
        headers: answer.headers,
        body: answer.body,
      }
    } catch (error) {
      // Never the error's own text: undici's may quote the URL, token or secret included.
      return refusal(-1, `WeChat could not be reached (${upstreamFailure(error)})`)
    }
  }

  /**
   * Compare-and-refresh of the token WeChat refused (the engine's rule: it refreshes only if
   * that token is still current, once for any number of concurrent reports, within the cooldown
   * and daily guards). The token to retry with, or undefined when there is no other.
   */
  private async freshToken(
    call: ProxyCall,
    used: string,
    errcode: number
  ): Promise<string | undefined> {
    try {
      const result = await this.deps.engine.invalidate(call.appid, used, errcode, call.reporter)
      return result.token.accessToken === used ? undefined : result.token.accessToken
    } catch {
      return undefined
    }
  }
}

/**
 * The signal that ends an upstream call when its caller went away. undici takes an EventEmitter
 * with `aborted` as well as an AbortSignal; an AbortController per call cost more than the rest of
 * the proxy's own bookkeeping (bench/proxy.ts).
 */
class CallerGone extends EventEmitter {
  aborted = false

  abort(): void {
    if (this.aborted) return
    this.aborted = true
    this.emit('abort')
  }
}

/** Drops an answer's body unread (undici reports the destroy as an error: it is expected here). */
function discard(body: Readable): void {
  body.on('error', () => undefined)
  body.destroy()
}

function upstreamFailure(error: unknown): string {
  const code = (error as { code?: unknown }).code
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') return 'timeout'
  if ((error as Error).name === 'AbortError') return 'the caller went away'
  return 'network'
}

/** JSON (or text, or unlabelled) answers are read for their errcode; images and files stream. */
function inspectable(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type']
  if (type === undefined) return true
  return /json|^text\//i.test(type) && headers['content-encoding'] === undefined
}

function passedHeaders(
  headers: IncomingHttpHeaders,
  requestId: string,
  withLength: boolean
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = { 'x-request-id': requestId }
  for (const name of PASSED_RESPONSE_HEADERS) {
    const value = headers[name]
    if (value !== undefined) out[name] = value
  }
  const length = headers['content-length']
  if (withLength && length !== undefined) out['content-length'] = length
  return out
}

/** A body with no match names no nonzero errcode anywhere: most answers, the successes. */
const NONZERO_ERRCODE = /"errcode"\s*:\s*-?[1-9]/

/** The errcode of a JSON answer; undefined when it is not JSON or carries none (a success). */
function errcodeOf(body: Buffer): number | undefined {
  // Only a body naming a nonzero errcode is parsed, for the top-level one.
  if (!NONZERO_ERRCODE.test(body.toString('latin1'))) return undefined
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { errcode?: unknown }
    return typeof parsed.errcode === 'number' &&
      Number.isInteger(parsed.errcode) &&
      parsed.errcode !== 0
      ? parsed.errcode
      : undefined
  } catch {
    return undefined
  }
}

/** Reads `body` until it ends or passes `limit`; `more` when it did not end (it is paused). */
function collect(body: Readable, limit: number): Promise<{ buffered: Buffer; more: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const done = (more: boolean): void => {
      body.off('data', onData)
      body.off('end', onEnd)
      body.off('error', onError)
      if (more) body.pause()
      resolve({ buffered: Buffer.concat(chunks, size), more })
    }
    const onData = (chunk: Buffer): void => {
      chunks.push(chunk)
      size += chunk.length
      if (size > limit) done(true)
    }
    const onEnd = (): void => done(false)
    const onError = (error: Error): void => {
      body.off('data', onData)
      body.off('end', onEnd)
      reject(error)
    }
    body.on('data', onData)
    body.once('end', onEnd)
    body.once('error', onError)
  })
}
