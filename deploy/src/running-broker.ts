import { createHash } from 'node:crypto'
import { serveBroker, type BrokerProcess } from '@wxbroker/testkit'
import { startSimulator, type Simulator, type TokenKind } from '@wxbroker/wechat-sim'

// A real `wxbroker serve` (through the test kit) against the WeChat simulator, with two apps (one
// of each token kind), a client key and an admin key: what the end-to-end deploy checks run against.

export interface TestApp {
  appid: string
  kind: TokenKind
  secret: string
}

export const TEST_APPS: readonly TestApp[] = [
  { appid: 'wx00000000000d0001', kind: 'stable', secret: 'deploy-e2e-secret-stable-5b1f' },
  { appid: 'wx00000000000d0002', kind: 'classic', secret: 'deploy-e2e-secret-classic-9a4e' },
]

export const TEST_KEYS = {
  client: 'wxb_deploy-e2e-client-key-3c7a8d0e',
  admin: 'wxb_deploy-e2e-admin-key-71f2b9c4',
} as const

export const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

/** The broker config: secrets by ${env:...} like the shipped configs, keys by their hashes. */
export function testBrokerConfig(wechatBaseUrl: string, extra = ''): string {
  const apps = TEST_APPS.map(
    (a, i) => `
  - appid: ${a.appid}
    secret: \${env:APP_SECRET_${i}}
    tokenKind: ${a.kind}`
  ).join('')
  return `
listen: { host: 127.0.0.1, port: 0 }
wechat: { baseUrl: ${wechatBaseUrl}, timeoutMs: 3000 }
apps:${apps}
clients:
  - name: deploy-e2e
    keySha256: ${sha256(TEST_KEYS.client)}
    apps: ['*']
    scopes: [token:read, token:invalidate]
  - name: ops
    keySha256: ${sha256(TEST_KEYS.admin)}
    apps: ['*']
    scopes: [admin]
${extra}`
}

export const testBrokerEnv = (): Record<string, string> =>
  Object.fromEntries(TEST_APPS.map((a, i) => [`APP_SECRET_${i}`, a.secret]))

export interface AppView {
  appid: string
  token_kind: string
  generation: number | null
  /** Safe remaining use of the current token, in seconds. */
  expires_in: number
  quota: { used: number; limit: number; warn: boolean }
}

export interface RunningBroker {
  url: string
  sim: Simulator
  process: BrokerProcess
  /** GET /v1/apps/{appid}/token with the client key; throws unless 200. */
  fetchToken(appid: string): Promise<string>
  /** GET /v1/apps with the admin key: the broker's own view of every app. */
  apps(): Promise<AppView[]>
  /** Every access token the simulator ever issued to the test apps. */
  issuedTokens(): Promise<string[]>
  stop(): Promise<void>
}

async function getJson<T>(url: string, key: string): Promise<T> {
  const res = await fetch(url, { headers: { authorization: `Bearer ${key}` } })
  const body = await res.text()
  if (res.status !== 200) throw new Error(`GET ${url}: ${res.status} ${body}`)
  return JSON.parse(body) as T
}

/** Starts the simulator and the broker, fetches a token for every app and reads /v1/apps. */
export async function startRunningBroker(extraConfig = ''): Promise<RunningBroker> {
  const sim = await startSimulator({
    apps: TEST_APPS.map((a) => ({ appid: a.appid, secret: a.secret })),
  })
  let process: BrokerProcess & { url: string }
  try {
    process = await serveBroker(testBrokerConfig(sim.url, extraConfig), testBrokerEnv())
  } catch (e) {
    await sim.close()
    throw e
  }
  const { url } = process
  const broker: RunningBroker = {
    url,
    sim,
    process,
    async fetchToken(appid) {
      const body = await getJson<{ access_token: string }>(
        `${url}/v1/apps/${appid}/token`,
        TEST_KEYS.client
      )
      return body.access_token
    },
    async apps() {
      return (await getJson<{ apps: AppView[] }>(`${url}/v1/apps`, TEST_KEYS.admin)).apps
    },
    async issuedTokens() {
      const issued = await Promise.all(TEST_APPS.map((a) => sim.admin.tokens(a.appid, a.kind)))
      return issued.flatMap((t) => t.all.map((r) => r.token))
    },
    async stop() {
      await process.proc.stop('SIGTERM')
      await sim.close()
    },
  }
  try {
    for (const app of TEST_APPS) await broker.fetchToken(app.appid)
    await broker.apps()
  } catch (e) {
    await broker.stop()
    throw e
  }
  return broker
}
