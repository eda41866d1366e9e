import { randomBytes } from 'node:crypto'
import { pino } from 'pino'
import { startSimulator } from '@wxbroker/wechat-sim'
import { exitOnSignals } from './serve.js'
import { generateKey } from './hash-key.js'
import { buildConfig, sha256 } from '../config/load.js'
import { createLogger } from '../observability/logger.js'
import { startBroker } from '../server/server.js'

export const DEMO_APPID = 'wxdeadbeefcafe0001'
export const DEMO_LOGIN_CODES = ['demo-code-1', 'demo-code-2', 'demo-code-3']

const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`

/** `wxbroker demo`: the simulator as WeChat, the broker on the in-memory store, copy-paste curls. */
export async function demoCommand(
  opts: { port?: string | undefined },
  out: (line: string) => void
): Promise<'running' | number> {
  const port = opts.port === undefined ? 8700 : Number(opts.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    out(`--port must be a TCP port number (got ${opts.port}); 0 picks a free one`)
    return 2
  }
  const secret = randomBytes(16).toString('hex')
  const sim = await startSimulator({ apps: [{ appid: DEMO_APPID, secret, unionBound: true }] })
  for (const [i, code] of DEMO_LOGIN_CODES.entries()) {
    await sim.admin.registerLoginCode({
      appid: DEMO_APPID,
      code,
      openid: `o_demo_user_${i + 1}`,
      unionid: `u_demo_user_${i + 1}`,
      // WeChat's codes last 5 minutes; the printed curl lines should work for as long as it runs.
      ttlSeconds: null,
    })
  }
  const clientKey = generateKey()
  const adminKey = generateKey()
  const config = buildConfig(
    {
      listen: { host: '127.0.0.1', port },
      // The WeChat-compatible gateway on the next port (both free ones with --port 0).
      gateway: { listen: { host: '127.0.0.1', port: port === 0 || port === 65535 ? 0 : port + 1 } },
      wechat: { baseUrl: sim.url },
      apps: [{ appid: DEMO_APPID, secret }],
      clients: [
        {
          name: 'demo-service',
          keySha256: sha256(clientKey).toString('hex'),
          apps: [DEMO_APPID],
          scopes: ['token:read', 'token:invalidate', 'login', 'gateway'],
        },
        {
          name: 'demo-admin',
          keySha256: sha256(adminKey).toString('hex'),
          apps: ['*'],
          scopes: ['admin'],
        },
      ],
    },
    '(demo)',
    {}
  )
  // Logs go to stderr so stdout stays the readable instructions.
  const logger = createLogger({
    level: 'info',
    destination: pino.destination({ dest: 2, sync: false }),
  })
  let broker
  try {
    broker = await startBroker(config, { logger })
  } catch (e) {
    await sim.close()
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      out(`port ${port} is in use; run \`wxbroker demo --port 0\` to pick a free one`)
      return 1
    }
    throw e
  }
  const base = broker.url
  const gateway = broker.gateway?.url ?? ''
  // co-wechat-api as it is (`npm i co-wechat-api`): only its base URLs change (docs/sdks.md).
  const sdk = [
    `const API = require("co-wechat-api")`,
    `const api = new API("${DEMO_APPID}", "${clientKey}")`,
    `api.prefix = "${gateway}/cgi-bin/"`,
    `api.wxaPrefix = "${gateway}/wxa/"`,
    `api.getWXACodeUnlimit("demo").then((jpeg) => console.log("wxacode image:", jpeg.length, "bytes"))`,
  ].join('; ')
  const auth = (key: string): string => `-H ${q(`Authorization: Bearer ${key}`)}`
  const lines = [
    'wxbroker demo is running',
    `  broker     ${base}  (in-memory store: single instance only)`,
    `  gateway    ${gateway}  (WeChat's own API: point an SDK's base URL here, the client key as its AppSecret)`,
    `  simulator  ${sim.url}  (stands in for api.weixin.qq.com)`,
    `  app        ${DEMO_APPID}`,
    `  client key ${clientKey}  (scopes token:read, token:invalidate, login, gateway)`,
    `  admin key  ${adminKey}  (scope admin)`,
    '',
    '# the current access token',
    `curl -s ${auth(clientKey)} ${base}/v1/apps/${DEMO_APPID}/token`,
    `# exchange a wx.login code (pre-registered, each works once: ${DEMO_LOGIN_CODES.join(', ')})`,
    `curl -s -X POST ${auth(clientKey)} -H 'Content-Type: application/json' -d ${q(JSON.stringify({ js_code: DEMO_LOGIN_CODES[0] }))} ${base}/v1/apps/${DEMO_APPID}/jscode2session`,
    '# per-app status (admin)',
    `curl -s ${auth(adminKey)} ${base}/v1/apps`,
    '# Prometheus metrics',
    `curl -s ${base}/metrics`,
    "# the gateway: WeChat's token endpoint, the client key where the AppSecret goes",
    `curl -s ${q(`${gateway}/cgi-bin/token?grant_type=client_credential&appid=${DEMO_APPID}&secret=${clientKey}`)}`,
    '# an SDK through the gateway, unchanged but for its base URL (npm i co-wechat-api; docs/sdks.md for the others)',
    `node -e ${q(sdk)}`,
    '',
    `status page: ${base}/status    OpenAPI: ${base}/openapi.json`,
    'Ctrl-C stops the demo.',
  ]
  for (const line of lines) out(line)
  exitOnSignals({
    logger: broker.logger,
    shutdown: async () => {
      await broker.shutdown()
      await sim.close()
    },
  })
  return 'running'
}
