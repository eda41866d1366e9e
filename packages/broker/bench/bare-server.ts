// The baseline for bench/http.ts: a bare Hono server on @hono/node-server answering the token route
// with a constant JSON body (BARE_BODY: the broker's own answer, so both send the same bytes), in its
// own process like the broker.
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import { Hono } from 'hono'

const body: unknown = process.env.BARE_BODY
  ? JSON.parse(process.env.BARE_BODY)
  : {
      appid: 'wx00000000000be0c1',
      access_token: 'constant-token-for-the-baseline-0123456789abcdef',
      expires_in: 6600,
      expires_at: '2026-11-23T12:00:00.000Z',
    }
const app = new Hono()
app.get('/v1/apps/:appid/token', (c) => c.json(body))
const server = serve(
  { fetch: app.fetch, hostname: '127.0.0.1', port: Number(process.env.PORT ?? 0) },
  (info: AddressInfo) => process.stdout.write(`listening http://127.0.0.1:${info.port}\n`)
)
process.on('SIGTERM', () => server.close(() => process.exit(0)))
