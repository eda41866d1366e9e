import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './ports.js'
import { spawnTracked, type TrackedProcess } from './processes.js'

const INSTALL_HINT =
  'redis-server was not found on PATH. Broker tests need real Redis servers; install it with ' +
  '`apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS). .ci/run installs it.'

let checked = false

/** Throws with an install hint when redis-server is missing: tests never skip silently. */
export function assertRedisServerInstalled(binary = 'redis-server'): void {
  if (checked && binary === 'redis-server') return
  try {
    execFileSync(binary, ['--version'], { stdio: 'ignore' })
  } catch {
    throw new Error(INSTALL_HINT)
  }
  if (binary === 'redis-server') checked = true
}

/** A redis-server process owned by the test that started it. Never the machine's own Redis. */
export interface RedisServer {
  readonly port: number
  readonly url: string
  /** Whether the process is running now. */
  readonly running: boolean
  /** SIGKILL: the abrupt failure fault tests need. */
  kill(): Promise<void>
  /** Clean shutdown (SIGTERM). */
  stop(): Promise<void>
  /** Starts again on the same port, empty (nothing is persisted), and waits for PING. */
  restart(): Promise<void>
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    let reply = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(500, () => done(false))
    socket.on('error', () => done(false))
    socket.on('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      reply += chunk.toString()
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
  })
}

async function waitForPing(
  port: number,
  proc: TrackedProcess,
  output: () => string
): Promise<void> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) {
      throw new Error(`redis-server on port ${port} exited during start:\n${output()}`)
    }
    if (await ping(port)) return
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${output()}`)
}

class OwnedRedis implements RedisServer {
  private proc: TrackedProcess | undefined
  private readonly dir = mkdtempSync(join(tmpdir(), 'wxbroker-redis-'))

  constructor(readonly port: number) {
    if (port === 6379)
      throw new Error('refusing to run a test Redis on 6379, the machine’s own port')
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  get running(): boolean {
    return (
      this.proc !== undefined &&
      this.proc.child.exitCode === null &&
      this.proc.child.signalCode === null
    )
  }

  async start(): Promise<void> {
    const args = [
      '--port',
      String(this.port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
    ]
    const proc = spawnTracked('redis-server', [...args, '--dir', this.dir, '--loglevel', 'warning'])
    let output = ''
    proc.child.stdout?.on('data', (c: Buffer) => (output += c.toString()))
    proc.child.stderr?.on('data', (c: Buffer) => (output += c.toString()))
    this.proc = proc
    await waitForPing(this.port, proc, () => output)
  }

  async kill(): Promise<void> {
    await this.proc?.stop('SIGKILL')
  }

  async stop(): Promise<void> {
    await this.proc?.stop('SIGTERM')
  }

  async restart(): Promise<void> {
    if (this.running) await this.stop()
    await this.start()
  }

  async dispose(): Promise<void> {
    await this.kill()
    rmSync(this.dir, { recursive: true, force: true })
  }
}

export interface RedisServers {
  readonly servers: RedisServer[]
  readonly urls: string[]
  /** Kills every server and removes its directory. */
  stopAll: () => Promise<void>
}

/** Starts `count` independent redis-server processes on free ports (e.g. 3 for a lock quorum). */
export async function startRedisNodes(count: number): Promise<RedisServers> {
  assertRedisServerInstalled()
  const servers: OwnedRedis[] = []
  const stopAll = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.dispose()))
  }
  try {
    for (let i = 0; i < count; i++) servers.push(await startOnFreePort())
  } catch (error) {
    await stopAll()
    throw error
  }
  return { servers, urls: servers.map((s) => s.url), stopAll }
}

/** Starts one redis-server on a free port. */
export async function startRedis(): Promise<RedisServer & { stopAll: () => Promise<void> }> {
  const nodes = await startRedisNodes(1)
  const server = nodes.servers[0]!
  return Object.assign(server, { stopAll: nodes.stopAll })
}

async function startOnFreePort(): Promise<OwnedRedis> {
  let lastError: unknown
  for (let attempt = 0; attempt < 5; attempt++) {
    const server = new OwnedRedis(await freePort())
    try {
      await server.start()
      return server
    } catch (error) {
      // Another process can take the port between freePort() and redis binding it.
      lastError = error
      await server.dispose()
    }
  }
  throw lastError
}
