import type { IncomingMessage, ServerResponse } from 'node:http'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { parsePrometheus } from '@wxbroker/testkit'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { buildConfig, sha256 } from '../../src/config/load.js'
import { createLogger } from '../../src/observability/logger.js'
import { buildBroker } from '../../src/server/server.js'
import type { FastPath } from '../../src/http/token-fast-path.js'
import { APP1, APP2, KEYS, startHarness, type Harness } from '../support/harness.js'

// The token GET's hot path (src/http/token-fast-path.ts) answers only the plain success case and
// must answer it exactly as the Hono route does; everything else must reach Hono untouched.

const TOKEN_ROUTE = '/v1/apps/{appid}/token'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/

describe('decides from the request alone, writing nothing when it declines', () => {
  const APP = 'wx00000000000fa571'
  const COLD = 'wx00000000000fa572' // configured, but WeChat refuses it: never a token to serve
  const READER = 'fast-reader-key-0000000000000001'
  const WRITER = 'fast-writer-key-0000000000000002'
  const OTHER = 'fast-other-app-key-0000000000003'
  let sim: Simulator
  let broker: ReturnType<typeof buildBroker>
  let fast: FastPath

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appid: APP, secret: 'fast-secret' }] })
    const config = buildConfig(
      {
        wechat: { baseUrl: sim.url, timeoutMs: 2000 },
        apps: [
          { appid: APP, secret: 'fast-secret' },
          { appid: COLD, secret: 'cold-secret' },
        ],
        clients: [
          {
            name: 'reader',
            keySha256: sha256(READER).toString('hex'),
            apps: ['*'],
            scopes: ['token:read'],
          },
          {
            name: 'writer',
            keySha256: sha256(WRITER).toString('hex'),
            apps: ['*'],
            scopes: ['token:invalidate'],
          },
          {
            name: 'other',
            keySha256: sha256(OTHER).toString('hex'),
            apps: [COLD],
            scopes: ['token:read'],
          },
        ],
      },
      '(test)',
      {}
    )
    broker = buildBroker(config, {
      logger: createLogger({ level: 'silent', destination: { write: () => {} } }),
      engine: { tuning: { retry: { attempts: 1, baseDelayMs: 5, maxDelayMs: 10 } } },
    })
    await broker.engine.start()
    await broker.engine.getToken(APP)
    fast = broker.fastPath
  })
  afterAll(async () => {
    broker.detach()
    await broker.engine.stop()
    await sim.close()
  })

  interface Written {
    answered: boolean
    status?: number
    headers?: Record<string, string | number>
    body?: string
  }
  function call(url: string, headers: Record<string, string> = {}, method = 'GET'): Written {
    const out: Written = { answered: false }
    const res = {
      writeHead(status: number, h: Record<string, string | number>) {
        out.status = status
        out.headers = h
        return this
      },
      end(body: string) {
        out.body = body
      },
    }
    const req = { method, url, headers }
    out.answered = fast(req as unknown as IncomingMessage, res as unknown as ServerResponse)
    return out
  }
  const bearer = (key: string) => ({ authorization: `Bearer ${key}` })

  it('answers a token GET by a key with token:read for its app, from memory', () => {
    const token = broker.engine.peekToken(APP)
    const out = call(`/v1/apps/${APP}/token`, bearer(READER))
    expect(out.answered).toBe(true)
    expect(out.status).toBe(200)
    expect(out.headers?.['content-type']).toBe('application/json')
    expect(out.headers?.['cache-control']).toBe('no-store')
    expect(out.headers?.['x-request-id']).toMatch(UUID)
    expect(out.headers?.['content-length']).toBe(Buffer.byteLength(out.body ?? ''))
    expect(JSON.parse(out.body ?? '')).toEqual({
      appid: APP,
      access_token: token?.accessToken,
      expires_in: expect.any(Number) as number,
      expires_at: new Date(token?.expiresAt ?? 0).toISOString(),
    })
  })

  it('echoes a well-formed X-Request-Id and replaces a malformed one', () => {
    const url = `/v1/apps/${APP}/token`
    expect(
      call(url, { ...bearer(READER), 'x-request-id': 'trace-42' }).headers?.['x-request-id']
    ).toBe('trace-42')
    const replaced = call(url, { ...bearer(READER), 'x-request-id': 'bad id"}' })
    expect(replaced.headers?.['x-request-id']).toMatch(UUID)
  })

  it.each([
    ['HEAD', `/v1/apps/${APP}/token`, bearer(READER)],
    ['POST', `/v1/apps/${APP}/token`, bearer(READER)],
    ['GET', `/v1/apps/${APP}/token?x=1`, bearer(READER)],
    ['GET', `/v1/apps/${APP}/token/`, bearer(READER)],
    ['GET', `/v1/apps/${APP.toUpperCase()}/token`, bearer(READER)],
    ['GET', `/v1/apps/${APP}/token`, {}],
    ['GET', `/v1/apps/${APP}/token`, { authorization: `Basic ${READER}` }],
    ['GET', `/v1/apps/${APP}/token`, bearer('no-such-key-000000000000000000000')],
    ['GET', `/v1/apps/${APP}/token`, bearer(WRITER)],
    ['GET', `/v1/apps/${APP}/token`, bearer(OTHER)],
    ['GET', '/v1/apps/wx0000000000000bad/token', bearer(READER)],
    ['GET', `/v1/apps/${COLD}/token`, bearer(READER)],
  ])('declines %s %s (%o) and writes nothing', (method, url, headers) => {
    const out = call(url, headers, method)
    expect(out).toEqual({ answered: false })
  })
})

describe('over HTTP: the same answer, access line and metrics as the Hono route', () => {
  let h: Harness
  beforeAll(async () => {
    h = await startHarness()
    // Past the cold start (the Hono route's job): from here the hot path has a token to serve.
    await h.broker.engine.getToken(APP1)
  })
  afterAll(async () => {
    await h.close()
  })

  /** Runs `fn`, expecting the hot path (the only caller of peekToken) to answer `times` requests. */
  async function viaHotPath<T>(times: number, fn: () => Promise<T>): Promise<T> {
    const peek = vi.spyOn(h.broker.engine, 'peekToken')
    try {
      const result = await fn()
      expect(peek).toHaveBeenCalledTimes(times)
      for (const r of peek.mock.results) expect(r.value).toMatchObject({ appid: APP1 })
      return result
    } finally {
      peek.mockRestore()
    }
  }

  /** The access line of a request id, minus the fields that differ between any two requests. */
  function accessLine(requestId: string): Record<string, unknown> {
    const line = h.logs.find((l) => l.includes(`"request_id":"${requestId}"`))
    expect(line, `access line of ${requestId}`).toBeDefined()
    const { time, ms, request_id, ...rest } = JSON.parse(line ?? '{}') as Record<string, unknown>
    expect(typeof time).toBe('string')
    expect(typeof ms).toBe('number')
    expect(request_id).toBe(requestId)
    return rest
  }

  it('a token GET through the server equals the Hono route’s answer', async () => {
    const path = `/v1/apps/${APP1}/token`
    const headers = (id: string) => ({ authorization: `Bearer ${KEYS.reader}`, 'x-request-id': id })
    // expires_in counts down each second: retry until both land in the same second.
    for (let attempt = 0; ; attempt++) {
      const viaServer = await viaHotPath(1, () =>
        h.fetch(path, { headers: headers(`fast-${attempt}`) })
      )
      const viaHono = await h.broker.app.request(path, { headers: headers(`hono-${attempt}`) })
      const [a, b] = [await viaServer.text(), await viaHono.text()]
      if (a !== b && attempt < 3) continue
      expect(viaServer.status).toBe(200)
      expect(viaHono.status).toBe(200)
      expect(a).toBe(b)
      // Every header Hono sets, the hot path sets alike; the server adds only the transport ones.
      const honoHeaders = new Map(viaHono.headers)
      honoHeaders.set('content-length', String(Buffer.byteLength(b)))
      honoHeaders.delete('x-request-id')
      const serverHeaders = new Map(viaServer.headers)
      for (const name of ['date', 'connection', 'keep-alive', 'x-request-id'])
        serverHeaders.delete(name)
      expect(serverHeaders).toEqual(honoHeaders)
      expect(viaServer.headers.get('x-request-id')).toBe(`fast-${attempt}`)
      expect(viaHono.headers.get('x-request-id')).toBe(`hono-${attempt}`)
      expect(accessLine(`fast-${attempt}`)).toEqual(accessLine(`hono-${attempt}`))
      expect(accessLine(`fast-${attempt}`)).toMatchObject({
        route: TOKEN_ROUTE,
        method: 'GET',
        status: 200,
        client: 'reader',
        msg: 'request',
      })
      break
    }
  })

  it('a hot path that throws before answering leaves the request to Hono', async () => {
    const peek = vi.spyOn(h.broker.engine, 'peekToken').mockImplementation(() => {
      throw new Error('broken hot path')
    })
    try {
      const res = await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.reader })
      expect(peek).toHaveBeenCalledTimes(1)
      expect(res.status).toBe(200)
      expect(((await res.json()) as { appid: string }).appid).toBe(APP1)
    } finally {
      peek.mockRestore()
    }
  })

  it('every answer of either path is counted once, in the same series', async () => {
    const before = parsePrometheus(await (await h.fetch('/metrics')).text())
    const ok = { route: TOKEN_ROUTE, method: 'GET', status: '200' }
    const client = { client: 'reader', appid: APP1, scope: 'token:read' }
    for (let i = 0; i < 3; i++) {
      const fast = await viaHotPath(1, () =>
        h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.reader })
      )
      expect(fast.status).toBe(200)
      const hono = await h.broker.app.request(`/v1/apps/${APP1}/token`, {
        headers: { authorization: `Bearer ${KEYS.reader}` },
      })
      expect(hono.status).toBe(200)
    }
    // Declined by the hot path, answered by Hono: counted under their own status.
    expect((await h.fetch(`/v1/apps/${APP2}/token`, { key: KEYS.reader })).status).toBe(403)
    const after = parsePrometheus(await (await h.fetch('/metrics')).text())
    const delta = (name: string, labels: Record<string, string>) =>
      (after.get(name, labels) ?? 0) - (before.get(name, labels) ?? 0)
    expect(delta('wxbroker_http_requests_total', ok)).toBe(6)
    expect(delta('wxbroker_http_request_duration_seconds_count', { route: TOKEN_ROUTE })).toBe(7)
    expect(delta('wxbroker_client_requests_total', client)).toBe(6)
    expect(delta('wxbroker_http_requests_total', { ...ok, status: '403' })).toBe(1)
  })
})
