import { startSimulator, type SimAppInit, type Simulator } from '@wxbroker/wechat-sim'
import { buildConfig, sha256 } from '../../src/config/load.js'
import type { Scope } from '../../src/config/schema.js'
import { createLogger } from '../../src/observability/logger.js'
import { startBroker, type RunningBroker } from '../../src/server/server.js'

// A real simulator and a real broker (real engine, in-memory store) on 127.0.0.1:0, with every
// log line captured so tests can assert on them.

export const APP1 = 'wx00000000000000a1'
export const APP2 = 'wx00000000000000a2'
export const SECRET1 = 'app1-secret-6f1d2c9b8a7e'
export const SECRET2 = 'app2-secret-0a9b8c7d6e5f'

export const KEYS = {
  reader: 'key-reader-000000000000000000001',
  invalidator: 'key-invalidator-0000000000000002',
  login: 'key-login-0000000000000000000003',
  admin: 'key-admin-0000000000000000000004',
  all: 'key-all-scopes-00000000000000005',
  otherApp: 'key-other-app-000000000000000006',
  app1Admin: 'key-app1-admin-00000000000000007',
} as const

const CLIENTS: { name: string; key: string; apps: string[]; scopes: Scope[] }[] = [
  { name: 'reader', key: KEYS.reader, apps: [APP1], scopes: ['token:read'] },
  { name: 'invalidator', key: KEYS.invalidator, apps: [APP1], scopes: ['token:invalidate'] },
  { name: 'login', key: KEYS.login, apps: [APP1], scopes: ['login'] },
  { name: 'admin', key: KEYS.admin, apps: ['*'], scopes: ['admin'] },
  {
    name: 'all',
    key: KEYS.all,
    apps: ['*'],
    scopes: ['token:read', 'token:invalidate', 'login', 'admin'],
  },
  { name: 'other-app', key: KEYS.otherApp, apps: [APP2], scopes: ['token:read', 'login'] },
  { name: 'app1-admin', key: KEYS.app1Admin, apps: [APP1], scopes: ['admin'] },
]

export interface Harness {
  sim: Simulator
  broker: RunningBroker
  url: string
  logs: string[]
  fetch(path: string, init?: RequestInit & { key?: string }): Promise<Response>
  close(): Promise<void>
}

export interface HarnessOptions {
  /** Extra top-level config (merged over the defaults). */
  config?: Record<string, unknown>
  /** Per-app config overrides, keyed by appid. */
  apps?: Record<string, Record<string, unknown>>
  /** Simulator app settings overrides, keyed by appid. */
  simApps?: Record<string, Partial<SimAppInit>>
  /** Runs after the simulator starts and before the broker does (e.g. to inject faults). */
  beforeBroker?: (sim: Simulator) => Promise<unknown>
}

export async function startHarness(opts: HarnessOptions = {}): Promise<Harness> {
  const simApps: SimAppInit[] = [
    { appid: APP1, secret: SECRET1, ...opts.simApps?.[APP1] },
    { appid: APP2, secret: SECRET2, ...opts.simApps?.[APP2] },
  ]
  const sim = await startSimulator({ apps: simApps })
  await opts.beforeBroker?.(sim)
  const config = buildConfig(
    {
      listen: { host: '127.0.0.1', port: 0 },
      wechat: { baseUrl: sim.url, timeoutMs: 2000, verifySecretOnStart: false },
      apps: [
        { appid: APP1, secret: SECRET1, ...opts.apps?.[APP1] },
        { appid: APP2, secret: SECRET2, tokenKind: 'classic', ...opts.apps?.[APP2] },
      ],
      clients: CLIENTS.map((c) => ({
        name: c.name,
        keySha256: sha256(c.key).toString('hex'),
        apps: c.apps,
        scopes: c.scopes,
      })),
      ...opts.config,
    },
    '(test)',
    {}
  )
  const logs: string[] = []
  const logger = createLogger({
    // The configured level when a test sets one, else debug: as much material as possible.
    level: config.log.level === 'info' ? 'debug' : config.log.level,
    destination: { write: (line: string) => void logs.push(line) },
  })
  const broker = await startBroker(config, {
    logger,
    drainTimeoutMs: 1000,
    engine: {
      tuning: { retry: { attempts: 2, baseDelayMs: 5, maxDelayMs: 10 } },
      coldStartTimeoutMs: 3000,
    },
  })
  return {
    sim,
    broker,
    url: broker.url,
    logs,
    fetch(path, init = {}) {
      const { key, ...rest } = init
      const headers = new Headers(rest.headers)
      if (key !== undefined) headers.set('authorization', `Bearer ${key}`)
      return fetch(`${broker.url}${path}`, { ...rest, headers })
    },
    async close() {
      await broker.shutdown()
      await sim.close()
    },
  }
}

/** POST a JSON body. */
export function jsonInit(body: unknown, key?: string): RequestInit & { key?: string } {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    ...(key === undefined ? {} : { key }),
  }
}

export interface ErrorEnvelope {
  error: {
    code: string
    message: string
    request_id: string
    errcode?: number
    errmsg?: string
    rid?: string | null
  }
}

/** Asserts the error envelope and returns it. */
export async function expectError(
  res: Response,
  status: number,
  code: string
): Promise<ErrorEnvelope> {
  const text = await res.text()
  let body: ErrorEnvelope
  try {
    body = JSON.parse(text) as ErrorEnvelope
  } catch {
    throw new Error(`expected a JSON error body with status ${status}, got ${res.status}: ${text}`)
  }
  if (res.status !== status || body.error.code !== code) {
    throw new Error(`expected ${status} ${code}, got ${res.status}: ${text}`)
  }
  if (
    typeof body.error.message !== 'string' ||
    body.error.request_id !== res.headers.get('x-request-id')
  ) {
    throw new Error(`malformed error envelope: ${text}`)
  }
  return body
}
