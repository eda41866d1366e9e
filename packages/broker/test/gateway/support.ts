import { sha256 } from '../../src/config/load.js'
import type { Scope, TokenMode } from '../../src/config/schema.js'
import { APP1, APP2, startHarness, type Harness, type HarnessOptions } from '../support/harness.js'

// One broker (real engine, in-memory store) with the gateway on, and the simulator as WeChat, for
// the gateway's tests: clients for each case of design §10, every log line captured.

export { APP1, APP2, SECRET1, SECRET2 } from '../support/harness.js'

export const GW_KEYS = {
  sdk: 'wxb_sdk-key-00000000000000000000000000000000001',
  alias: 'wxb_alias-key-000000000000000000000000000000002',
  narrow: 'wxb_narrow-key-00000000000000000000000000000003',
  multi: 'wxb_multi-key-000000000000000000000000000000004',
  noGateway: 'wxb_no-gateway-key-000000000000000000000000005',
  app2: 'wxb_app2-key-0000000000000000000000000000000006',
  alias2: 'wxb_alias2-key-00000000000000000000000000000007',
} as const

interface TestClient {
  name: string
  key: string
  apps: string[]
  scopes: Scope[]
  tokenMode?: TokenMode
  gatewayPaths?: string[]
}

export const GW_CLIENTS: TestClient[] = [
  { name: 'sdk', key: GW_KEYS.sdk, apps: [APP1], scopes: ['gateway'] },
  { name: 'alias', key: GW_KEYS.alias, apps: [APP1], scopes: ['gateway'], tokenMode: 'alias' },
  {
    name: 'narrow',
    key: GW_KEYS.narrow,
    apps: [APP1],
    scopes: ['gateway'],
    tokenMode: 'alias',
    gatewayPaths: ['/wxa/*', '/sns/jscode2session'],
  },
  { name: 'multi', key: GW_KEYS.multi, apps: ['*'], scopes: ['gateway', 'token:read'] },
  { name: 'no-gateway', key: GW_KEYS.noGateway, apps: [APP1], scopes: ['token:read'] },
  { name: 'app2', key: GW_KEYS.app2, apps: [APP2], scopes: ['gateway'] },
  { name: 'alias2', key: GW_KEYS.alias2, apps: [APP1], scopes: ['gateway'], tokenMode: 'alias' },
]

export interface GatewayHarness extends Harness {
  /** The gateway's origin. */
  gw: string
}

export async function startGateway(
  opts: HarnessOptions & { gateway?: Record<string, unknown> } = {}
): Promise<GatewayHarness> {
  const h = await startHarness({
    ...opts,
    config: {
      gateway: { listen: { host: '127.0.0.1', port: 0 }, timeoutMs: 2000, ...opts.gateway },
      clients: GW_CLIENTS.map(({ key, ...c }) => ({
        ...c,
        keySha256: sha256(key).toString('hex'),
      })),
      ...opts.config,
    },
  })
  const gw = h.broker.gateway?.url
  if (gw === undefined) throw new Error('the gateway did not start')
  return { ...h, gw }
}
