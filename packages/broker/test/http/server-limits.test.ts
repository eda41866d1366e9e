import { connect, type Socket } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildConfig } from '../../src/config/load.js'
import { APP1, KEYS, startHarness, type Harness } from '../support/harness.js'

// The node:http server's limits (src/server/http-server.ts), with small configured values so each case
// takes a second or less: a slowloris client, a slow body, an idle keep-alive connection, a chunked
// body above the body limit, a connection above the cap; and Node's own 431/400 in the envelope.

const LIMITS = {
  bodyLimitBytes: 1024,
  headersTimeoutMs: 400,
  requestTimeoutMs: 800,
  keepAliveTimeoutMs: 300,
  maxConnections: 4,
}

interface Exchange {
  /** Everything the server sent before it closed the connection. */
  text: string
  /** Milliseconds from connecting until the server first answered, and until it closed. */
  firstDataAfterMs: number | undefined
  closedAfterMs: number
}

/** A raw connection: `script` writes to it; resolves once the server has closed it. */
function exchange(
  url: string,
  script: (socket: Socket) => void | Promise<void>,
  giveUpMs = 5000
): Promise<Exchange> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) })
    const started = performance.now()
    let text = ''
    let firstDataAfterMs: number | undefined
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`the server kept the connection open for ${giveUpMs} ms; got: ${text}`))
    }, giveUpMs)
    socket.on('data', (chunk) => {
      firstDataAfterMs ??= performance.now() - started
      text += chunk.toString()
    })
    socket.on('error', () => undefined) // a reset counts as closed
    socket.on('close', () => {
      clearTimeout(timer)
      resolve({ text, firstDataAfterMs, closedAfterMs: performance.now() - started })
    })
    socket.on('connect', () => void Promise.resolve(script(socket)).catch(() => undefined))
  })
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Writes `text` a byte at a time, `everyMs` apart, while the socket stays open. */
async function dribble(socket: Socket, text: string, everyMs: number): Promise<void> {
  for (const byte of text) {
    if (socket.destroyed || socket.writableEnded) return
    socket.write(byte)
    await sleep(everyMs)
  }
}

/** Status line, headers (lower-cased names) and body of the one response in `text`. */
function parseResponse(text: string): {
  status: number
  headers: Record<string, string>
  body: unknown
} {
  const [head = '', body = ''] = text.split('\r\n\r\n')
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers: Record<string, string> = {}
  for (const line of lines) {
    const colon = line.indexOf(':')
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim()
  }
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(body) as unknown }
}

function expectEnvelope(text: string, status: number, code: string): void {
  const res = parseResponse(text)
  expect(res.status).toBe(status)
  expect(res.headers['content-type']).toBe('application/json')
  expect(res.headers.connection).toBe('close')
  expect(res.body).toEqual({
    error: { code, message: expect.any(String) as string, request_id: null },
  })
}

let h: Harness
let host: string
beforeAll(async () => {
  h = await startHarness({ config: { http: LIMITS } })
  host = new URL(h.url).host
})
afterAll(async () => {
  await h.close()
})

describe('timeouts', () => {
  it('a slowloris client (headers a byte at a time) is answered 408 and closed within headersTimeoutMs', async () => {
    const request = `GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Slow: ${'x'.repeat(200)}\r\n\r\n`
    const res = await exchange(h.url, (s) => dribble(s, request, 20))
    // Node checks the limit every min(1 s, headersTimeoutMs / 2).
    expect(res.closedAfterMs).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 50)
    expect(res.closedAfterMs).toBeLessThan(LIMITS.headersTimeoutMs * 1.5 + 300)
    expectEnvelope(res.text, 408, 'request_timeout')
  })

  it('a slow body is ended with 408 in the envelope within requestTimeoutMs', async () => {
    const body = JSON.stringify({ access_token: 'x'.repeat(100) })
    const head =
      `POST /v1/apps/${APP1}/token/invalidate HTTP/1.1\r\nHost: ${host}\r\n` +
      `Authorization: Bearer ${KEYS.invalidator}\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${body.length}\r\n\r\n`
    const res = await exchange(h.url, async (s) => {
      s.write(head)
      await dribble(s, body, 25)
    })
    expect(res.closedAfterMs).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 50)
    expect(res.closedAfterMs).toBeLessThan(
      LIMITS.requestTimeoutMs + LIMITS.headersTimeoutMs / 2 + 300
    )
    expectEnvelope(res.text, 408, 'request_timeout')
    // The broker carries on.
    expect((await h.fetch('/healthz')).status).toBe(200)
  })

  it('an idle keep-alive connection is closed after keepAliveTimeoutMs', async () => {
    const res = await exchange(h.url, (s) => {
      s.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\n\r\n`)
    })
    expect(res.text).toMatch(/^HTTP\/1\.1 200 /)
    // Node announces `Keep-Alive: timeout=<s>` and closes 1 s after that, so that a client
    // honouring the header always closes first (node's keep-alive timeout buffer).
    const idleMs = res.closedAfterMs - (res.firstDataAfterMs ?? 0)
    expect(idleMs).toBeGreaterThanOrEqual(LIMITS.keepAliveTimeoutMs - 50)
    expect(idleMs).toBeLessThan(LIMITS.keepAliveTimeoutMs + 1000 + 300)
  })
})

describe('size limits', () => {
  it('a chunked body without Content-Length above bodyLimitBytes gets 413 in the envelope', async () => {
    const chunk = 'x'.repeat(400)
    const chunks = Array.from({ length: 4 }, () => `${chunk.length.toString(16)}\r\n${chunk}\r\n`)
    const res = await exchange(h.url, (s) => {
      s.write(
        `POST /v1/apps/${APP1}/token/invalidate HTTP/1.1\r\nHost: ${host}\r\n` +
          `Authorization: Bearer ${KEYS.invalidator}\r\nContent-Type: application/json\r\n` +
          `Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n${chunks.join('')}0\r\n\r\n`
      )
    })
    const parsed = parseResponse(res.text)
    expect(parsed.status).toBe(413)
    expect(parsed.body).toMatchObject({ error: { code: 'payload_too_large' } })
  })

  it('oversized headers get 431 in the envelope (Node refuses them before routing)', async () => {
    const res = await exchange(h.url, (s) => {
      s.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'y'.repeat(20_000)}\r\n\r\n`)
    })
    expectEnvelope(res.text, 431, 'request_header_fields_too_large')
  })

  it('a malformed request line gets 400 bad_request in the envelope', async () => {
    const res = await exchange(h.url, (s) => {
      s.write('THIS IS NOT HTTP\r\n\r\n')
    })
    expectEnvelope(res.text, 400, 'bad_request')
  })
})

describe('connection cap', () => {
  it('connections above maxConnections are refused; one frees up, the next is served', async () => {
    const { hostname, port } = new URL(h.url)
    const open = async (): Promise<Socket> => {
      const s = connect({ host: hostname, port: Number(port) })
      s.on('error', () => undefined)
      await new Promise((r) => s.once('connect', r))
      return s
    }
    // The harness's keep-alive fetches may hold a connection: start from none.
    await sleep(LIMITS.keepAliveTimeoutMs + 100)
    const held = await Promise.all(Array.from({ length: LIMITS.maxConnections }, open))
    try {
      await sleep(50) // the server has accepted them all
      const refused = await exchange(h.url, (s) => {
        s.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
      })
      expect(refused.text).toBe('')
      expect(refused.closedAfterMs).toBeLessThan(200)
      expect(h.logs.some((l) => l.includes('http.maxConnections reached'))).toBe(true)

      held.pop()?.destroy()
      await sleep(50)
      const served = await exchange(h.url, (s) => {
        s.write(`GET /healthz HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`)
      })
      expect(served.text).toMatch(/^HTTP\/1\.1 200 /)
    } finally {
      for (const s of held) s.destroy()
    }
  })
})

describe('config', () => {
  const minimal = { apps: [{ appid: APP1, secret: 's' }] }

  it('defaults, and WXBROKER_HTTP_* overrides derived from the schema', () => {
    expect(buildConfig(minimal, '(test)', {}).http).toEqual({
      bodyLimitBytes: 16384,
      headersTimeoutMs: 10_000,
      requestTimeoutMs: 30_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 1024,
    })
    const env = { WXBROKER_HTTP_MAX_CONNECTIONS: '7', WXBROKER_HTTP_KEEP_ALIVE_TIMEOUT_MS: '65000' }
    expect(buildConfig(minimal, '(test)', env).http).toMatchObject({
      maxConnections: 7,
      keepAliveTimeoutMs: 65_000,
    })
  })

  it('headersTimeoutMs above requestTimeoutMs is refused, naming the field and the fix', () => {
    const tree = { ...minimal, http: { headersTimeoutMs: 5000, requestTimeoutMs: 1000 } }
    expect(() => buildConfig(tree, '(test)', {})).toThrow(
      /http\.headersTimeoutMs: is above http\.requestTimeoutMs \(1000\).*make it at most that/
    )
  })
})
