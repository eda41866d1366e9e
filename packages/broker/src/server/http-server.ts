import { createServer, maxHeaderSize, type RequestListener, type Server } from 'node:http'
import type { Socket } from 'node:net'
import type { BrokerConfig } from '../config/load.js'
import { errorBody, type ApiErrorCode } from '../http/errors.js'
import type { BrokerLogger } from '../observability/logger.js'

export type HttpLimits = Pick<
  BrokerConfig['http'],
  'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections'
>

/** How often a refused connection may produce a log line. */
const DROP_LOG_INTERVAL_MS = 10_000

export interface Refusal {
  status: number
  reason: string
  code: ApiErrorCode
  message: string
}

/** How a listener words its refusals: the /v1 JSON envelope by default (the gateway: WeChat's). */
export type RenderRefusal = (refusal: Refusal) => {
  status: number
  reason: string
  contentType: string
  body: string
}

const envelope: RenderRefusal = (refusal) => ({
  status: refusal.status,
  reason: refusal.reason,
  contentType: 'application/json',
  body: JSON.stringify({ error: errorBody(refusal.code, refusal.message, null) }),
})

/**
 * The node:http server with explicit limits (Node's defaults let a slow client hold a request for
 * five minutes and accept any number of connections) and its own refusals answered in the JSON
 * envelope.
 */
export function createHttpServer(
  listener: RequestListener,
  limits: HttpLimits,
  logger: BrokerLogger,
  render: RenderRefusal = envelope
): Server {
  const server = createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      // Node looks for requests past these timeouts on this interval (default 30 s, which would
      // let a slow client run far past a 10 s limit).
      connectionsCheckingInterval: Math.min(1000, Math.floor(limits.headersTimeoutMs / 2)),
    },
    listener
  )
  // Above the cap Node closes new connections at once ('drop'): a flood of idle sockets cannot take
  // the file descriptors the Redis and WeChat connections need.
  server.maxConnections = limits.maxConnections
  let dropped = 0
  let lastDropLog = -Infinity
  server.on('drop', () => {
    dropped++
    const now = performance.now()
    if (now - lastDropLog < DROP_LOG_INTERVAL_MS) return
    logger.warn(
      { dropped, maxConnections: limits.maxConnections },
      'connections refused: http.maxConnections reached'
    )
    dropped = 0
    lastDropLog = now
  })
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) =>
    answerClientError(error, socket, render)
  )
  return server
}

function refusalFor(code: string | undefined): Refusal {
  switch (code) {
    case 'HPE_HEADER_OVERFLOW':
      return {
        status: 431,
        reason: 'Request Header Fields Too Large',
        code: 'request_header_fields_too_large',
        message: `request headers exceed ${maxHeaderSize} bytes`,
      }
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return {
        status: 408,
        reason: 'Request Timeout',
        code: 'request_timeout',
        message: 'the request was not received in time (http.headersTimeoutMs / requestTimeoutMs)',
      }
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
      return {
        status: 413,
        reason: 'Payload Too Large',
        code: 'payload_too_large',
        message: 'chunk extensions are too large',
      }
    default:
      return {
        status: 400,
        reason: 'Bad Request',
        code: 'bad_request',
        message: 'malformed HTTP request',
      }
  }
}

/**
 * Node's parser errors and request timeouts arrive here, before (or instead of) a request object,
 * so the answer is written to the socket itself, as Node's docs show for 'clientError'. Nothing of
 * the error is logged or echoed: its rawPacket may hold an Authorization header.
 */
function answerClientError(
  error: NodeJS.ErrnoException,
  socket: Socket,
  render: RenderRefusal
): void {
  // A response already on its way cannot be replaced; a reset or closed socket takes no answer.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent: boolean } | null })
    ._httpMessage
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy()
    return
  }
  const { status, reason, contentType, body } = render(refusalFor(error.code))
  const head = [
    `HTTP/1.1 ${status} ${reason}`,
    `Content-Type: ${contentType}`,
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'Connection: close',
  ]
  // end() flushes the answer; destroy() then frees the socket even if the client keeps sending.
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`, () => socket.destroy())
}
