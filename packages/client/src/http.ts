import { TransportError } from './errors.js'

/** Options every network call accepts. */
export interface CallOptions {
  /** Aborts the call; the signal's reason is thrown as is. */
  signal?: AbortSignal | undefined
  /** Overrides the client's timeout for this call, in milliseconds. */
  timeoutMs?: number | undefined
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>

export interface HttpResponse {
  status: number
  headers: Headers
  body: Uint8Array
}

// undici wraps the socket error in `cause`; these codes mean the request never left this host.
const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EADDRNOTAVAIL',
])

/** The innermost message: undici's own is only "fetch failed". */
function rootMessage(error: unknown): string {
  let message = 'request failed'
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; depth++) {
    message = e.message
    e = e.cause
  }
  return message
}

function errorCode(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && code.length > 0) return code
    e = e.cause
  }
  return undefined
}

/**
 * One HTTP exchange with a deadline covering the whole body. `target` names the request in
 * errors and must not contain secrets (callers pass a path, or a URL without its query).
 */
export async function httpRequest(
  fetchImpl: FetchLike,
  url: string,
  init: RequestInit,
  target: string,
  timeoutMs: number,
  signal: AbortSignal | undefined
): Promise<HttpResponse> {
  signal?.throwIfAborted()
  const timeout = AbortSignal.timeout(timeoutMs)
  const combined = signal === undefined ? timeout : AbortSignal.any([signal, timeout])
  try {
    const response = await fetchImpl(url, { ...init, signal: combined })
    const body = new Uint8Array(await response.arrayBuffer())
    return { status: response.status, headers: response.headers, body }
  } catch (error) {
    if (signal?.aborted === true) throw signal.reason
    if (timeout.aborted) {
      throw new TransportError({
        kind: 'timeout',
        target,
        detail: `no answer within ${timeoutMs} ms`,
      })
    }
    const code = errorCode(error)
    throw new TransportError({
      kind: code !== undefined && CONNECT_CODES.has(code) ? 'connect' : 'network',
      target,
      detail: code ?? rootMessage(error),
      cause: error,
    })
  }
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaType(headers: Headers): string | undefined {
  const value = headers.get('content-type')
  if (value === null) return undefined
  const type = value.split(';', 1)[0]?.trim().toLowerCase()
  return type === undefined || type === '' ? undefined : type
}

/** Parses a JSON body; undefined when it is not JSON. */
export function parseJson(body: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(body)) as unknown
  } catch {
    return undefined
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
