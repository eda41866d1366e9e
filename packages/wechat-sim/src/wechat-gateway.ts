import { setTimeout as sleep } from 'node:timers/promises'
import type { MiddlewareHandler } from 'hono'
import { WxError } from './errors.js'
import type { Fault } from './faults.js'
import { wxJson, type SimContext, type SimEnv } from './routes/context.js'
import type { SimState } from './state/sim-state.js'
import type { SimCallLogEntry } from './types.js'

export const ADMIN_PREFIX = '/__sim'

export function isAdminPath(path: string): boolean {
  return path === ADMIN_PREFIX || path.startsWith(`${ADMIN_PREFIX}/`)
}

/** Drops the connection without a response, as a crashed upstream or a cut network would. */
function dropConnection(c: SimContext): Response {
  c.env.incoming.socket.destroy()
  return new Response(null)
}

async function applyFault(
  c: SimContext,
  fault: Fault,
  signal: AbortSignal
): Promise<Response | null> {
  if (fault.latencyMs > 0) {
    try {
      await sleep(fault.latencyMs, undefined, { signal })
    } catch {
      return dropConnection(c) // the simulator is closing
    }
  }
  const outcome = fault.outcome
  if (outcome === null) return null
  switch (outcome.kind) {
    case 'errcode': {
      const error = new WxError(outcome.errcode, outcome.errmsg)
      return wxJson(c, error.body())
    }
    case 'http_status':
      return c.body(outcome.body, outcome.status as 500, {
        'Content-Type': 'text/html',
        ...(outcome.location === undefined ? {} : { Location: outcome.location }),
      })
    case 'drop':
      return dropConnection(c)
  }
}

function faultKind(fault: Fault | undefined): SimCallLogEntry['fault'] {
  if (!fault) return undefined
  return fault.outcome?.kind ?? (fault.holdAfterMs > 0 ? 'hold' : 'latency')
}

/**
 * Holds a finished answer for `fault.holdAfterMs`, listed meanwhile in the admin API's `held` with
 * the caller's port, so that a test can find the process waiting for it (e.g. the broker replica
 * whose token WeChat has issued but that has not received it yet).
 */
async function holdAnswer(
  c: SimContext,
  state: SimState,
  fault: Fault,
  signal: AbortSignal
): Promise<void> {
  const socket = c.env.incoming.socket
  const id = state.held.add({
    endpoint: c.req.path,
    appid: c.get('appid') ?? c.req.query('appid') ?? null,
    remotePort: socket.remotePort ?? null,
    remoteAddress: socket.remoteAddress ?? null,
    since: state.now(),
    holdAfterMs: fault.holdAfterMs,
  })
  try {
    await sleep(fault.holdAfterMs, undefined, { signal })
  } catch {
    c.res = dropConnection(c) // the simulator is closing
  } finally {
    state.held.remove(id)
  }
}

/**
 * In front of every WeChat endpoint (not /__sim/): counts the call, applies a pending fault,
 * and writes the call log entry (never the secret, token or session key).
 */
export function wechatGateway(state: SimState, signal: AbortSignal): MiddlewareHandler<SimEnv> {
  return async (c, next) => {
    if (isAdminPath(c.req.path)) return next()
    const endpoint = c.req.path
    const at = state.now()
    state.calls.count(endpoint)
    const fault = state.faults.take(endpoint)
    const faulted = fault ? await applyFault(c, fault, signal) : null
    if (faulted) c.res = faulted
    else await next()
    const dropped = fault?.outcome?.kind === 'drop' || c.env.incoming.socket.destroyed
    const kind = faultKind(fault)
    // Logged before a hold: WeChat has acted (a token issued, a code spent) and this is its answer,
    // whether or not the caller is still there to hear it when the hold ends.
    state.calls.log({
      method: c.req.method,
      endpoint,
      appid: c.get('appid') ?? c.req.query('appid') ?? null,
      errcode: fault?.outcome?.kind === 'http_status' || dropped ? null : (c.get('errcode') ?? 0),
      status: dropped ? 0 : c.res.status,
      at,
      ...(kind === undefined ? {} : { fault: kind }),
    })
    if (fault && fault.holdAfterMs > 0 && !dropped) await holdAnswer(c, state, fault, signal)
  }
}
