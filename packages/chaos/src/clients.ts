import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { spawnTracked, type TrackedProcess } from '@wxbroker/testkit'
import type { Attempt, ClientLine, ClientOptions } from './client-main.js'

const MAIN = fileURLToPath(new URL('./client-main.ts', import.meta.url))

/** One call a client made, as the soak keeps it. */
export interface ClientCall {
  client: number
  app: number
  t: number
  ms: number
  ok: boolean
  err?: string
  tries: Attempt[]
}

/** How a client process ended (every exit before the soak stops it breaks an invariant). */
export interface ClientExit {
  client: number
  t: number
  code: number | null
  signal: string | null
  expected: boolean
  stderrTail: string
}

/** The client processes and everything they reported. */
export class Clients {
  readonly calls: ClientCall[] = []
  readonly exits: ClientExit[] = []
  private readonly procs: TrackedProcess[] = []
  private readonly drained: Promise<void>[] = []
  private stopping = false

  static async start(
    count: number,
    base: Omit<ClientOptions, 'index' | 'seed' | 'brokerUrls'> & {
      brokerUrls: string[]
      seeds: number[]
    }
  ): Promise<Clients> {
    const clients = new Clients()
    await Promise.all(
      Array.from({ length: count }, (_, index) =>
        clients.spawn({
          ...base,
          index,
          seed: base.seeds[index]!,
          // Each client prefers another replica first, as services spread over a Service would.
          brokerUrls: base.brokerUrls.map(
            (_u, i) => base.brokerUrls[(i + index) % base.brokerUrls.length]!
          ),
        })
      )
    )
    return clients
  }

  private spawn(options: ClientOptions): Promise<void> {
    const proc = spawnTracked(process.execPath, ['--import', 'tsx', MAIN], {
      env: { PATH: process.env.PATH ?? '', CHAOS_CLIENT_OPTIONS: JSON.stringify(options) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    this.procs.push(proc)
    let stderr = ''
    proc.child.stderr?.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-4000)))
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`client ${options.index} did not start within 60 s:\n${stderr}`)),
        60_000
      )
      const lines = createInterface({ input: proc.child.stdout! })
      this.drained.push(new Promise((done) => lines.once('close', done)))
      lines.on('line', (line) => {
        let message: ClientLine
        try {
          message = JSON.parse(line) as ClientLine
        } catch {
          return
        }
        if (message.e === 'ready') {
          clearTimeout(timer)
          resolve()
        } else if (message.e === 'call') {
          const { c, a, t, ms, ok, err, tries } = message
          this.calls.push({ client: c, app: a, t, ms, ok, tries, ...(err ? { err } : {}) })
        }
      })
      void proc.exited.then((code) => {
        clearTimeout(timer)
        this.exits.push({
          client: options.index,
          t: Date.now(),
          code,
          signal: proc.child.signalCode,
          expected: this.stopping,
          stderrTail: stderr,
        })
        reject(new Error(`client ${options.index} exited (${code}) before it started:\n${stderr}`))
      })
    })
  }

  /** SIGTERM: each client finishes its calls in flight, reports them, and exits 0. */
  async stop(): Promise<void> {
    this.stopping = true
    await Promise.all(this.procs.map((p) => p.stop('SIGTERM', 15_000)))
    // The last calls' lines may still be in the pipe when the exit is seen.
    await Promise.race([Promise.all(this.drained), new Promise((r) => setTimeout(r, 2000))])
  }
}
