import { fileURLToPath } from 'node:url'
import { createInterface } from 'node:readline'
import { spawnTracked, type TrackedProcess } from '@wxbroker/testkit'
import type { EngineEventName, EngineEvents, EngineOptions } from '../../src/engine/index.js'

type Message =
  | { type: 'ready' }
  | { type: 'event'; name: EngineEventName; payload: unknown }
  | { type: 'reply'; id: number; result?: unknown; error?: string }

export interface ReplicaEvent<K extends EngineEventName = EngineEventName> {
  name: K
  payload: EngineEvents[K]
}

const MAIN = fileURLToPath(new URL('./replica-main.ts', import.meta.url))

/** A token engine in a child process, driven over stdin/stdout. */
export class Replica {
  readonly events: ReplicaEvent[] = []
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: Error) => void }
  >()
  private readonly listeners = new Set<() => void>()
  private nextId = 1
  private ready = false

  private constructor(readonly process: TrackedProcess) {
    createInterface({ input: process.child.stdout! }).on('line', (line) => this.onLine(line))
    let stderr = ''
    process.child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()))
    void process.exited.then(() => {
      for (const p of this.pending.values())
        p.reject(new Error(`replica exited; stderr:\n${stderr}`))
      this.pending.clear()
    })
  }

  static async start(options: EngineOptions): Promise<Replica> {
    const proc = spawnTracked(process.execPath, ['--import', 'tsx', MAIN], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, WXB_REPLICA_OPTIONS: JSON.stringify(options) },
    })
    const replica = new Replica(proc)
    await replica.until(() => replica.ready, 20_000, 'replica start')
    return replica
  }

  call<T>(op: string, args: Record<string, unknown>): Promise<T> {
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject })
      this.process.child.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n')
    })
  }

  /** Waits until an event matching `predicate` has been seen. */
  async waitForEvent<K extends EngineEventName>(
    name: K,
    predicate: (payload: EngineEvents[K]) => boolean,
    timeoutMs = 10_000
  ): Promise<void> {
    const seen = (): boolean =>
      this.events.some((e) => e.name === name && predicate(e.payload as EngineEvents[K]))
    await this.until(seen, timeoutMs, `event ${name}`)
  }

  count<K extends EngineEventName>(
    name: K,
    predicate: (payload: EngineEvents[K]) => boolean
  ): number {
    return this.events.filter((e) => e.name === name && predicate(e.payload as EngineEvents[K]))
      .length
  }

  until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
    if (condition()) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (!condition()) return
        clearTimeout(timer)
        this.listeners.delete(check)
        resolve()
      }
      const timer = setTimeout(() => {
        this.listeners.delete(check)
        reject(new Error(`timed out waiting for ${what}`))
      }, timeoutMs)
      this.listeners.add(check)
    })
  }

  private onLine(line: string): void {
    let message: Message
    try {
      message = JSON.parse(line) as Message
    } catch {
      return
    }
    if (message.type === 'ready') this.ready = true
    if (message.type === 'event')
      this.events.push({ name: message.name, payload: message.payload } as ReplicaEvent)
    if (message.type === 'reply') {
      const waiter = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (message.error !== undefined) waiter?.reject(new Error(message.error))
      else waiter?.resolve(message.result)
    }
    for (const listener of [...this.listeners]) listener()
  }
}
