import { AdminInputError } from './errors.js'
import type { SimFault } from './types.js'

export type FaultOutcome =
  | { kind: 'errcode'; errcode: number; errmsg?: string }
  | { kind: 'http_status'; status: number; body: string; location?: string }
  | { kind: 'drop' }

/** A fault as it is applied: an optional delay, then an optional outcome replacing the answer. */
export interface Fault {
  id: number
  endpoint: string
  latencyMs: number
  /** The call is handled as usual, then its answer is held this long (real milliseconds). */
  holdAfterMs: number
  outcome: FaultOutcome | null
  /** Calls left to shape; -1 = until cleared. */
  remaining: number
}

const DEFAULT_HTTP_BODY = '<html><body><h1>502 Bad Gateway</h1></body></html>'

/**
 * Normalises the admin input. The type may be given (`type: 'latency', ms`) or implied by the
 * fields (`{latency: 800}`, `{errcode: -1}`, `{status: 502}`, `{drop: true}`); a latency may be
 * combined with one outcome.
 */
export function toFault(input: SimFault, id: number): Fault {
  const latencyMs = input.latency ?? input.ms ?? 0
  const outcomes: FaultOutcome[] = []
  if (input.errcode !== undefined)
    outcomes.push({
      kind: 'errcode',
      errcode: input.errcode,
      ...(input.errmsg === undefined ? {} : { errmsg: input.errmsg }),
    })
  if (input.status !== undefined)
    outcomes.push({
      kind: 'http_status',
      status: input.status,
      body: input.body ?? DEFAULT_HTTP_BODY,
      ...(input.location === undefined ? {} : { location: input.location }),
    })
  if (input.location !== undefined && input.status === undefined)
    throw new AdminInputError('location goes with status (a redirect, e.g. status 302)')
  if (input.drop === true) outcomes.push({ kind: 'drop' })
  if (input.type === 'drop' && outcomes.length === 0) outcomes.push({ kind: 'drop' })
  if (outcomes.length > 1)
    throw new AdminInputError('a fault has at most one of errcode, status and drop')
  const outcome = outcomes[0] ?? null
  const need: Record<string, boolean> = {
    latency: latencyMs > 0,
    errcode: outcome?.kind === 'errcode',
    http_status: outcome?.kind === 'http_status',
    drop: outcome?.kind === 'drop',
  }
  if (input.type !== undefined && !need[input.type])
    throw new AdminInputError(
      `fault type ${input.type} needs its field: latency → ms (or latency), errcode → errcode, http_status → status`
    )
  const holdAfterMs = input.holdAfterMs ?? 0
  if (holdAfterMs > 0 && outcome !== null)
    throw new AdminInputError(
      'holdAfterMs holds a real answer; it takes no errcode, status or drop'
    )
  if (latencyMs === 0 && outcome === null && holdAfterMs === 0)
    throw new AdminInputError('a fault needs latency (ms), holdAfterMs, errcode, status or drop')
  return {
    id,
    endpoint: input.endpoint,
    latencyMs,
    holdAfterMs,
    outcome,
    remaining: input.times ?? 1,
  }
}

/** Pending faults, applied in the order added; each shapes `times` calls to its endpoint (or `*`). */
export class Faults {
  private faults: Fault[] = []
  private nextId = 1

  add(input: SimFault): Fault {
    const fault = toFault(input, this.nextId++)
    this.faults.push(fault)
    return fault
  }

  /** The first fault matching this endpoint, with one of its uses spent. */
  take(endpoint: string): Fault | undefined {
    const fault = this.faults.find((f) => f.endpoint === endpoint || f.endpoint === '*')
    if (!fault) return undefined
    if (fault.remaining > 0) {
      fault.remaining -= 1
      if (fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault)
    }
    return fault
  }

  list(): Fault[] {
    return this.faults.map((f) => ({ ...f }))
  }

  /** Removes one pending fault; false when it is not pending (spent, cleared or unknown). */
  remove(id: number): boolean {
    const before = this.faults.length
    this.faults = this.faults.filter((f) => f.id !== id)
    return this.faults.length < before
  }

  clear(): void {
    this.faults = []
  }
}

/** An answer a `holdAfterMs` fault holds back, with the caller's side of the connection. */
export interface HeldAnswer {
  id: number
  endpoint: string
  appid: string | null
  /** The caller's TCP port: with its address, it names the process that waits for the answer. */
  remotePort: number | null
  remoteAddress: string | null
  /** Virtual-clock epoch milliseconds when the hold started (the answer was ready). */
  since: number
  holdAfterMs: number
}

/** The answers held right now (admin `GET /__sim/held`). */
export class HeldAnswers {
  private readonly held = new Map<number, HeldAnswer>()
  private nextId = 1

  add(entry: Omit<HeldAnswer, 'id'>): number {
    const id = this.nextId++
    this.held.set(id, { id, ...entry })
    return id
  }

  remove(id: number): void {
    this.held.delete(id)
  }

  list(): HeldAnswer[] {
    return [...this.held.values()].map((h) => ({ ...h }))
  }

  clear(): void {
    this.held.clear()
  }
}
