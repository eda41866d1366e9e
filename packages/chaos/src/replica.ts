import { rmSync } from 'node:fs'
import { dirname } from 'node:path'
import { spawnBroker, writeConfig, type BrokerProcess } from '@wxbroker/testkit'

/** A line a replica logged (pino JSON), access lines left out. */
export interface ReplicaLogLine {
  replica: number
  incarnation: number
  /** Epoch ms, from the line's own `time`. */
  t: number
  msg: string
  fields: Record<string, unknown>
}

/** How one incarnation of a replica ended. */
export interface ReplicaExit {
  replica: number
  incarnation: number
  t: number
  code: number | null
  signal: string | null
  /**
   * How the soak ended it: SIGKILL, or SIGTERM (then the exit must be 0); null when it did not,
   * which breaks an invariant.
   */
  endedBy: 'kill' | 'term' | null
  stderrTail: string
}

/**
 * One `wxbroker serve` replica: the real CLI as a child process, on a fixed port so that clients
 * keep its URL across restarts. Each start is a new incarnation; how each one ended is recorded.
 */
export class Replica {
  readonly url: string
  readonly exits: ReplicaExit[] = []
  /** When each incarnation was started (its start-up secret check follows). */
  readonly starts: { replica: number; incarnation: number; t: number }[] = []
  private readonly configPath: string
  private current: BrokerProcess | undefined
  private readonly past: { incarnation: number; proc: BrokerProcess }[] = []
  private endingBy: 'kill' | 'term' | null = null
  private paused = false
  incarnation = 0

  constructor(
    readonly index: number,
    readonly port: number,
    configYaml: string,
    private readonly env: Record<string, string>
  ) {
    this.url = `http://127.0.0.1:${port}`
    this.configPath = writeConfig(configYaml)
  }

  get pid(): number | undefined {
    return this.running ? this.current?.proc.child.pid : undefined
  }

  get running(): boolean {
    const child = this.current?.proc.child
    return child !== undefined && child.exitCode === null && child.signalCode === null
  }

  /** Running and not stopped with SIGSTOP: worth sending requests to. */
  get serving(): boolean {
    return this.running && !this.paused
  }

  async start(): Promise<void> {
    this.incarnation++
    this.endingBy = null
    this.paused = false
    const incarnation = this.incarnation
    this.starts.push({ replica: this.index, incarnation, t: Date.now() })
    const proc = spawnBroker(['serve', '--config', this.configPath], this.env)
    this.current = proc
    this.past.push({ incarnation, proc })
    void proc.proc.exited.then((code) => {
      const tail = proc.stderr().slice(-2000)
      this.exits.push({
        replica: this.index,
        incarnation,
        t: Date.now(),
        code,
        signal: proc.proc.child.signalCode,
        endedBy: this.incarnation === incarnation ? this.endingBy : null,
        stderrTail: tail,
      })
    })
    await proc.waitForLine((l) => l.includes('"msg":"wxbroker listening"'), 60_000)
  }

  /** SIGKILL, and waits for the exit. */
  async kill(): Promise<void> {
    if (!this.current || !this.running) return
    this.endingBy = 'kill'
    if (this.paused) this.resume()
    await this.current.proc.stop('SIGKILL')
  }

  /** SIGTERM (graceful drain); resolves with the exit code. SIGKILL after `graceMs`. */
  async terminate(graceMs = 15_000): Promise<number | null> {
    if (!this.current || !this.running) return null
    this.endingBy = 'term'
    if (this.paused) this.resume()
    return this.current.proc.stop('SIGTERM', graceMs)
  }

  pause(): void {
    if (!this.running || this.paused) return
    this.paused = true
    this.current!.proc.child.kill('SIGSTOP')
  }

  resume(): void {
    if (!this.running || !this.paused) return
    this.paused = false
    this.current!.proc.child.kill('SIGCONT')
  }

  /** Removes the config file's temporary directory (after the last stop). */
  removeConfig(): void {
    rmSync(dirname(this.configPath), { recursive: true, force: true })
  }

  /** Every line each incarnation logged so far, except access lines. */
  logLines(): ReplicaLogLine[] {
    const lines: ReplicaLogLine[] = []
    for (const { incarnation, proc } of this.past) {
      for (const raw of proc.stdout) {
        if (!raw.startsWith('{') || raw.includes('"msg":"request"')) continue
        try {
          const fields = JSON.parse(raw) as Record<string, unknown>
          lines.push({
            replica: this.index,
            incarnation,
            t: Date.parse(String(fields.time)),
            msg: typeof fields.msg === 'string' ? fields.msg : '',
            fields,
          })
        } catch {
          // a partial line at a SIGKILL
        }
      }
    }
    return lines
  }
}
