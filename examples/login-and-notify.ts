/**
 * A sibling service using @wxbroker/client: a login endpoint backed by SessionManager, and an
 * endpoint that sends a subscribe message to the logged-in user.
 *
 * Against the demo (`pnpm demo` prints the broker URL, a client key and the appid):
 *
 *   BROKER_URL=http://127.0.0.1:8700 WXBROKER_KEY=... APPID=wx... \
 *   WECHAT_BASE_URL=http://127.0.0.1:<simulator port> \
 *   pnpm exec tsx --tsconfig examples/tsconfig.json examples/login-and-notify.ts
 *
 * then (the demo pre-registers the login codes demo-code-1..3; templates and subscriptions are
 * registered through the simulator's admin API, SIM = the simulator URL the demo prints):
 *
 *   curl 'http://127.0.0.1:3000/login?code=demo-code-1'          # → sessionId, openid
 *   curl -X POST $SIM/__sim/templates -d '{"appid":"'$APPID'","templateId":"tpl-1",
 *     "fields":{"thing1":"thing","date2":"date"}}'
 *   curl -X POST $SIM/__sim/subscriptions -d '{"appid":"'$APPID'","openid":"o_demo_user_1",
 *     "templateId":"tpl-1","count":1}'
 *   curl -X POST -H 'x-session-id: <sessionId>' 'http://127.0.0.1:3000/notify?template=tpl-1'
 *
 * WECHAT_BASE_URL is only for the demo's simulator; leave it out to call WeChat itself.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import {
  BrokerError,
  BrokerTokenProvider,
  MiniProgramClient,
  SessionManager,
  WeChatApiError,
} from '@wxbroker/client'

function env(name: string): string {
  const value = process.env[name]
  if (value === undefined || value === '') {
    console.error(`${name} is not set: see the comment at the top of this file`)
    process.exit(2)
  }
  return value
}

const appid = env('APPID')
const tokens = new BrokerTokenProvider({
  baseUrls: env('BROKER_URL').split(','),
  apiKey: env('WXBROKER_KEY'),
  appid,
})
const wechat = new MiniProgramClient({
  appid,
  tokens,
  ...(process.env.WECHAT_BASE_URL ? { baseUrl: process.env.WECHAT_BASE_URL } : {}),
})
const sessions = new SessionManager({ client: wechat, ttlSeconds: 3600 })

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost')
  if (url.pathname === '/login') {
    // The front end sends the code from wx.login() and keeps the sessionId; never the session_key.
    const { sessionId, openid, expiresAt } = await sessions.login(
      url.searchParams.get('code') ?? ''
    )
    return reply(res, 200, { sessionId, openid, expiresAt })
  }
  if (url.pathname === '/notify' && req.method === 'POST') {
    const session = await sessions.get(String(req.headers['x-session-id'] ?? ''))
    if (session === undefined) return reply(res, 401, { error: 'log in first' })
    await wechat.subscribeMessage.send({
      touser: session.openid,
      template_id: url.searchParams.get('template') ?? 'YOUR_TEMPLATE_ID',
      page: 'pages/index/index',
      data: { thing1: { value: 'Order shipped' }, date2: { value: '2026-11-23' } },
    })
    return reply(res, 200, { sent: true })
  }
  return reply(res, 404, { error: 'try /login?code=… or POST /notify' })
}

const server = createServer((req, res) => {
  handle(req, res).catch((error: unknown) => {
    if (error instanceof WeChatApiError) {
      // e.g. 40029 bad login code, 43101 no subscription left: the caller's problem.
      return reply(res, 422, { errcode: error.errcode, errmsg: error.errmsg })
    }
    if (error instanceof BrokerError) {
      return reply(res, error.status === 502 ? 422 : 503, {
        error: error.code,
        errcode: error.errcode,
      })
    }
    console.error(error)
    return reply(res, 500, { error: 'internal error' })
  })
})

// Check the broker and the token once before serving (the broker uses stable tokens by default).
const quota = await wechat.openApi.getApiQuota('/cgi-bin/stable_token').catch((error: unknown) => {
  console.error(`cannot reach the broker or WeChat: ${(error as Error).message}`)
  process.exit(1)
})
console.log(
  `token OK; stable_token quota used ${quota.quota.used} of ${quota.quota.daily_limit} today`
)
const port = Number(process.env.PORT ?? 3000)
server.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`))
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => server.close(() => process.exit(0)))
}
