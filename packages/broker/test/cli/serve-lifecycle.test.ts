import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import {
  freePort,
  serveBroker,
  spawnBroker,
  startRedis,
  writeConfig,
  type BrokerProcess,
} from '@wxbroker/testkit'
import {
  APPID,
  KEY,
  KEY_SHA,
  SECRET,
  SECRET_ENV,
  auth,
  serveConfig as config,
} from './serve-fixture.js'

// `wxbroker serve` from start to stop, as a real process: it binds before it spends anything
// upstream, reports what it cannot bind, says `starting` until the engine runs, names the Redis
// nodes it cannot reach, stops without a false "store unreachable", and never prints a config
// secret in an uncaught error. (SIGHUP's drain is in serve.test.ts.)

const REDIS_PASSWORD = 'lifecycle-redis-pw-71c3e9'

let sim: Simulator
const running: BrokerProcess[] = []
const closers: (() => Promise<void>)[] = []
beforeAll(async () => {
  sim = await startSimulator({ apps: [{ appid: APPID, secret: SECRET }] })
})
afterEach(async () => {
  await Promise.all(running.splice(0).map((b) => b.proc.stop('SIGKILL')))
  await Promise.all(closers.splice(0).map((close) => close()))
  await sim.admin.clearFaults()
})
afterAll(async () => {
  await sim.close()
})

function track<T extends BrokerProcess>(broker: T): T {
  running.push(broker)
  return broker
}

/** A TCP server on a free port that accepts connections and never answers (closed after each test). */
async function silentServer(): Promise<number> {
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => undefined)
  })
  closers.push(
    () =>
      new Promise((resolve) => {
        sockets.forEach((s) => s.destroy())
        server.close(() => resolve())
      })
  )
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return (server.address() as AddressInfo).port
}

async function tokenCalls(): Promise<number> {
  const calls = await sim.admin.calls()
  return (calls['/cgi-bin/token'] ?? 0) + (calls['/cgi-bin/stable_token'] ?? 0)
}

const everything = (b: BrokerProcess): string => `${b.stdout.join('\n')}\n${b.stderr()}`

describe('bind first, then start the engine', () => {
  it('a port in use: exit 1 naming listen and the fix, and no upstream token call', async () => {
    const port = await silentServer()
    const before = await tokenCalls()
    const broker = track(
      spawnBroker(
        ['serve', '--config', writeConfig(config(sim.url).replace('port: 0', `port: ${port}`))],
        SECRET_ENV
      )
    )
    expect(await broker.proc.exited).toBe(1)
    expect(await tokenCalls()).toBe(before)
    expect(broker.stderr()).toContain(`cannot listen on 127.0.0.1:${port} (EADDRINUSE)`)
    expect(broker.stderr()).toContain('listen.port')
    expect(broker.stderr()).not.toMatch(/^\s+at /m)
  })

  it('a listen.host that does not resolve: exit 1 naming listen.host, no stack, no upstream call', async () => {
    const before = await tokenCalls()
    const yaml = config(sim.url).replace('host: 127.0.0.1', 'host: no-such-host.invalid')
    const broker = track(spawnBroker(['serve', '--config', writeConfig(yaml)], SECRET_ENV))
    expect(await broker.proc.exited).toBe(1)
    expect(await tokenCalls()).toBe(before)
    expect(broker.stderr()).toContain('listen.host')
    expect(broker.stderr()).not.toMatch(/^\s+at /m)
    expect(everything(broker)).not.toContain(SECRET)
  })

  it('while the engine starts (a Redis that never answers): /readyz 503 `starting`; SIGTERM still exits 0', async () => {
    const silent = await silentServer()
    const yaml = config(sim.url, `store: { redis: "redis://127.0.0.1:${silent}/0" }`)
    const broker = track(await serveBroker(yaml, SECRET_ENV))
    const ready = await fetch(`${broker.url}/readyz`)
    expect(ready.status).toBe(503)
    expect(((await ready.json()) as { reasons: string[] }).reasons).toContain('starting')
    expect((await fetch(`${broker.url}/healthz`)).status).toBe(200)
    const started = Date.now()
    expect(await broker.proc.stop('SIGTERM')).toBe(0)
    expect(Date.now() - started).toBeLessThan(5000)
    expect(broker.stdout.some((l) => l.includes('"msg":"stopped"'))).toBe(true)
  })
})

describe('the store in the logs', () => {
  it('a clean stop logs no "store unreachable"; a Redis killed under it does, naming the node', async () => {
    const redis = await startRedis()
    try {
      const yaml = config(sim.url, `store: { redis: "${redis.url}/0", keyPrefix: lifecycle }`)
      const clean = track(await serveBroker(yaml, SECRET_ENV))
      expect((await fetch(`${clean.url}/v1/apps/${APPID}/token`, { headers: auth })).status).toBe(
        200
      )
      expect(await clean.proc.stop('SIGTERM')).toBe(0)
      expect(clean.stdout.some((l) => l.includes('"msg":"stopped"'))).toBe(true)
      expect(clean.stdout.filter((l) => l.includes('store unreachable'))).toEqual([])

      const outage = track(await serveBroker(yaml, SECRET_ENV))
      await outage.waitForLine((l) => l.includes('"msg":"engine started"'))
      await redis.kill()
      await outage.waitForLine((l) => l.includes('store unreachable'))
      const lost = await outage.waitForLine((l) => l.includes('Redis node connection lost'))
      expect(JSON.parse(lost)).toMatchObject({
        node: `127.0.0.1:${redis.port}/0`,
        code: 'ECONNREFUSED',
      })
      await redis.restart()
      await outage.waitForLine((l) => l.includes('Redis node reachable again'))
    } finally {
      await redis.stopAll()
    }
  })

  it('Redis down at start: a warning names each node (host:port/db, no password) and the error code', async () => {
    // Port 1: nothing listens there, and no other test can take it (a free port could be taken
    // by another test file's server meanwhile, answering with something else than a refusal).
    const port = 1
    const yaml = config(
      sim.url,
      `store: { redis: "redis://:${REDIS_PASSWORD}@127.0.0.1:${port}/2" }`
    )
    const broker = track(await serveBroker(yaml, SECRET_ENV))
    const line = await broker.waitForLine((l) => l.includes('Redis node unreachable at start'))
    expect(JSON.parse(line)).toMatchObject({
      level: 40,
      node: `127.0.0.1:${port}/2`,
      code: 'ECONNREFUSED',
    })
    expect(await broker.proc.stop('SIGTERM')).toBe(0)
    expect(everything(broker)).not.toContain(REDIS_PASSWORD)
  })
})

describe('no uncaught error prints a config value', () => {
  // A preloaded module throws (or rejects) inside the running broker on SIGUSR2 with a message
  // holding the app secret, the Redis password (in a URL and bare) and the client key: the
  // process-level handlers must scrub all of them. No production hook: only Node's --import.
  const preload = join(mkdtempSync(join(tmpdir(), 'wxb-fatal-')), 'throw-on-usr2.mjs')
  writeFileSync(
    preload,
    `const leak = () => new Error(\`boom secret \${process.env.APP_SECRET} ` +
      `url redis://:\${process.env.LEAK_PW}@127.0.0.1:1/0 pw \${process.env.LEAK_PW} ` +
      `key "\${process.env.LEAK_KEY}"\`)\n` +
      `process.on('SIGUSR2', () => {\n` +
      `  if (process.env.LEAK_HOW === 'reject') void Promise.reject(leak())\n` +
      `  else throw leak()\n` +
      `})\n`
  )

  it.each(['throw', 'reject'])(
    'an uncaught %s: one scrubbed line on stderr, exit 1',
    async (how) => {
      const port = await freePort()
      const yaml = config(
        sim.url,
        `store: { redis: "redis://:${REDIS_PASSWORD}@127.0.0.1:${port}/0" }`
      ).replace(`keySha256: ${KEY_SHA}`, 'key: ${env:LEAK_KEY}')
      const broker = track(
        await serveBroker(yaml, {
          ...SECRET_ENV,
          LEAK_PW: REDIS_PASSWORD,
          LEAK_KEY: KEY,
          LEAK_HOW: how,
          NODE_OPTIONS: `--import=${pathToFileURL(preload).href}`,
        })
      )
      broker.proc.child.kill('SIGUSR2')
      expect(await broker.proc.exited).toBe(1)
      for (const secret of [SECRET, REDIS_PASSWORD, KEY]) {
        expect(everything(broker)).not.toContain(secret)
      }
      const stderr = broker.stderr()
      expect(stderr.trim().split('\n')).toHaveLength(1)
      expect(stderr).toMatch(
        /^wxbroker: fatal: Error: boom secret \[redacted\] url redis:\/\/\*\*\*@/
      )
    }
  )

  it('a Redis URL ioredis cannot parse (port 99999): exit 1, no password, no app secret, no stack', async () => {
    const yaml = config(sim.url, `store: { redis: "redis://:${REDIS_PASSWORD}@127.0.0.1:99999/0" }`)
    const broker = track(spawnBroker(['serve', '--config', writeConfig(yaml)], SECRET_ENV))
    expect(await broker.proc.exited).toBe(1)
    expect(everything(broker)).not.toContain(REDIS_PASSWORD)
    expect(everything(broker)).not.toContain(SECRET)
    expect(broker.stderr()).not.toMatch(/^\s+at /m)
  })
})
