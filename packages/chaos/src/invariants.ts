import type { SimCallLogEntry } from '@wxbroker/wechat-sim'
import type { GenerationRecord } from './observer.js'
import type { FaultKind } from './plan.js'
import { APPS, TIMING, type AppName } from './settings.js'
import {
  recoveryMs,
  withinBound,
  type FaultRecord,
  type SimTokenView,
  type SoakRun,
} from './soak.js'

// The invariants, judged after the run from what the clients, the observer, the simulator and the
// replicas' logs recorded. docs/reliability.md states each rule; this is the one place they live.

export const INVARIANTS = {
  refused: {
    title: 'WeChat refused a token the broker served',
    target: '0, except during a revoke (WeChat retires the token itself)',
  },
  clientErrors: {
    title: 'Client-visible errors',
    target: '0 (during a Redis majority loss the replicas serve the token they hold)',
  },
  generations: {
    title: 'Token generations go backwards (clients, replicas, store vs WeChat issue order)',
    target: '0',
  },
  upstream: {
    title: 'Upstream token calls beyond the minimum and the faults’ allowances',
    target: '0',
  },
  quota: {
    title: "Broker's quota count below WeChat's (the driver's own calls left out)",
    target: '0 samples',
  },
  exits: {
    title: 'Process exits the soak did not cause (or a SIGTERM that did not exit 0)',
    target: '0',
  },
  recovery: {
    title: `Faults after which a replica was not ready, or not serving a live token, within ${TIMING.recoveryBoundMs / 1000} s`,
    target: '0',
  },
} as const

export type InvariantId = keyof typeof INVARIANTS

export interface Violation {
  invariant: InvariantId
  /** Steps of the faults whose windows contain it; empty: outside every fault. */
  faults: number[]
  detail: string
}

export interface KindRow {
  kind: FaultKind
  executed: number
  injected: number
  calls: number
  refused: number
  clientErrors: number
  recoveryMs: number[]
  extra: number
  allowance: number
  violations: number
}

export interface InvariantResult {
  id: InvariantId
  title: string
  target: string
  observed: string
  ok: boolean
}

export interface Verdict {
  invariants: InvariantResult[]
  rows: KindRow[]
  totals: Omit<KindRow, 'kind'> & { faults: number }
  violations: Violation[]
  /** What the run showed beyond the invariants (readiness during an outage, fencing evidence). */
  notes: string[]
}

const TOKEN_ERRCODES = new Set([40001, 40014, 42001])

/** The faults whose attribution window contains `t`, earliest first. */
function windowsAt(faults: readonly FaultRecord[], t: number): FaultRecord[] {
  return faults.filter((f) => f.start <= t && t <= f.windowEnd)
}

const steps = (faults: readonly FaultRecord[]): number[] => faults.map((f) => f.planned.step)

function during(faults: readonly FaultRecord[]): string {
  if (faults.length === 0) return 'outside every fault'
  return `during ${faults.map((f) => `#${f.planned.step} ${f.planned.kind}`).join(' + ')}`
}

function clock(run: SoakRun, t: number): string {
  return `t+${((t - run.startedAt) / 1000).toFixed(1)} s`
}

/** Groups events by the set of faults containing them, into one violation per group. */
function grouped<E extends { t: number }>(
  run: SoakRun,
  events: E[],
  invariant: InvariantId,
  describe: (group: E[], faults: FaultRecord[]) => string
): Violation[] {
  const groups = new Map<string, { faults: FaultRecord[]; events: E[] }>()
  for (const e of events) {
    const faults = windowsAt(run.faults, e.t)
    const key = steps(faults).join(',')
    const g = groups.get(key) ?? { faults, events: [] }
    g.events.push(e)
    groups.set(key, g)
  }
  return [...groups.values()].map(({ faults, events: group }) => ({
    invariant,
    faults: steps(faults),
    detail: `${describe(group, faults)}, ${clock(run, group[0]!.t)}–${clock(run, group.at(-1)!.t)}, ${during(faults)}`,
  }))
}

interface Refusal {
  t: number
  app: AppName
  token: string
  errcode: number
}

function refusals(run: SoakRun): Refusal[] {
  const out: Refusal[] = []
  for (const call of run.calls) {
    for (const [token, errcode] of call.tries) {
      if (errcode !== null && TOKEN_ERRCODES.has(errcode))
        out.push({ t: call.t, app: APPS[call.app]!.name, token, errcode })
    }
  }
  return out
}

/** Where a refused token stood: its generation and what WeChat did with it. */
function tokenStory(run: SoakRun, r: Refusal): string {
  const sim = run.simTokens[r.app]?.find((t) => t.id === r.token)
  const gen = run.generations.find((g) => g.app === r.app && g.tokenId === r.token)
  const parts = [`${r.app} token ${r.token}`]
  if (gen) parts.push(`generation ${gen.generation}`)
  if (sim?.retiredAt !== undefined && sim.retiredAt < sim.expiresAt)
    parts.push(
      `retired by WeChat at ${clock(run, sim.retiredAt)} (expiry ${clock(run, sim.expiresAt)})`
    )
  else if (sim) parts.push(`expired at ${clock(run, sim.expiresAt)}`)
  return parts.join(', ')
}

function judgeRefusals(run: SoakRun): { violations: Violation[]; all: Refusal[] } {
  const all = refusals(run)
  const outside = all.filter(
    (r) => !windowsAt(run.faults, r.t).some((f) => f.outcome.refusalsAllowed)
  )
  const violations = grouped(run, outside, 'refused', (group) => {
    const codes = new Map<number, number>()
    for (const r of group) codes.set(r.errcode, (codes.get(r.errcode) ?? 0) + 1)
    const byCode = [...codes].map(([c, n]) => `${c} ×${n}`).join(', ')
    return `${group.length} call(s) refused (${byCode}); first: ${tokenStory(run, group[0]!)}`
  })
  return { violations, all }
}

function judgeClientErrors(run: SoakRun): Violation[] {
  const failed = run.calls.filter((c) => !c.ok)
  return grouped(run, failed, 'clientErrors', (group) => {
    const kinds = new Map<string, number>()
    for (const c of group) {
      const what = (c.err ?? '').replace(/\[request [^\]]+\]/, '').slice(0, 140)
      kinds.set(what, (kinds.get(what) ?? 0) + 1)
    }
    return `${group.length} call(s) failed: ${[...kinds].map(([k, n]) => `${n}× ${k}`).join(' | ')}`
  })
}

function judgeGenerations(run: SoakRun): Violation[] {
  const violations: Violation[] = []
  const order = new Map<AppName, Map<string, number>>()
  for (const app of APPS)
    order.set(app.name, new Map((run.simTokens[app.name] ?? []).map((t, i) => [t.id, i])))
  // Each client's calls of one app run one after another: the tokens they use must not go back.
  const perLoop = new Map<string, { max: number; maxToken: string }>()
  const backwards: { t: number; detail: string }[] = []
  for (const call of [...run.calls].sort((a, b) => a.t - b.t)) {
    const app = APPS[call.app]!.name
    const key = `${call.client}:${app}`
    for (const [token] of call.tries) {
      const index = order.get(app)!.get(token)
      if (index === undefined) {
        backwards.push({
          t: call.t,
          detail: `client ${call.client} used a ${app} token WeChat never issued`,
        })
        continue
      }
      const seen = perLoop.get(key)
      if (seen && index < seen.max)
        backwards.push({
          t: call.t,
          detail: `client ${call.client} used ${app} token #${index} after #${seen.max}`,
        })
      if (!seen || index > seen.max) perLoop.set(key, { max: index, maxToken: token })
    }
  }
  for (const b of backwards) {
    const faults = windowsAt(run.faults, b.t)
    violations.push({
      invariant: 'generations',
      faults: steps(faults),
      detail: `${b.detail} at ${clock(run, b.t)}, ${during(faults)}`,
    })
  }
  // Each replica (across its restarts) never reports an older generation than it did.
  const perReplica = new Map<string, number>()
  for (const g of [...run.replicaGenerations].sort((a, b) => a.t - b.t)) {
    const key = `${g.replica}:${g.app}`
    const max = perReplica.get(key) ?? 0
    if (g.generation < max) {
      const faults = windowsAt(run.faults, g.t)
      violations.push({
        invariant: 'generations',
        faults: steps(faults),
        detail: `replica ${g.replica} (incarnation ${g.incarnation}) reported ${g.app} generation ${g.generation} after ${max} at ${clock(run, g.t)}, ${during(faults)}`,
      })
    }
    perReplica.set(key, Math.max(max, g.generation))
  }
  // The store's generations follow WeChat's issue order.
  for (const app of APPS) {
    const gens = run.generations
      .filter((g) => g.app === app.name)
      .sort((a, b) => a.generation - b.generation)
    for (let i = 1; i < gens.length; i++) {
      const a = order.get(app.name)!.get(gens[i - 1]!.tokenId) ?? -1
      const b = order.get(app.name)!.get(gens[i]!.tokenId) ?? -1
      if (b <= a)
        violations.push({
          invariant: 'generations',
          faults: steps(windowsAt(run.faults, gens[i]!.seenAt)),
          detail: `${app.name} generation ${gens[i]!.generation} holds a token WeChat issued before generation ${gens[i - 1]!.generation}'s`,
        })
    }
  }
  return violations
}

/** When the broker plans to replace a record (jitter only delays it): the engine's rule. */
export function plannedAt(record: GenerationRecord, kind: AppName): number {
  if (kind === 'stable') return record.wechatExpiresAt - TIMING.stableRefreshBeforeExpiryMs
  const life = record.wechatExpiresAt - record.obtainedAt
  return Math.max(
    record.obtainedAt + life / 2,
    record.wechatExpiresAt - TIMING.refreshLeadSeconds * 1000
  )
}

/** Why a call was extra: what kind of fault can have forced it. */
export type ExtraKind = 'failed' | 'unkept' | 'same' | 'early' | 'stray-check'

export interface ExtraCall {
  t: number
  app: AppName
  kind: ExtraKind
  why: string
}

/**
 * Which extra calls a fault can force: a WeChat error answer forces a call of its app that fails,
 * a lock holder paused or killed after WeChat issued forces a token nobody keeps, a revoke or a
 * foreign refresh forces a refresh before its time. A fault pays only for those, within its
 * allowance; an extra call no fault can pay for is a violation.
 */
export function mayForce(fault: FaultRecord, call: ExtraCall): boolean {
  const p = fault.planned.params
  if (p.app !== undefined && p.app !== call.app) return false
  switch (fault.planned.kind) {
    case 'wechat-minus1-burst':
    case 'wechat-5xx':
    case 'wechat-drop':
    case 'wechat-45009':
    case 'wechat-40164':
    case 'stable-force-45009':
      return call.kind === 'failed'
    case 'holder-pause':
    case 'holder-kill-after-issue':
      return call.kind === 'unkept'
    case 'token-revoked':
    case 'foreign-refresh':
      return call.kind === 'early' || call.kind === 'same'
    default:
      return false
  }
}

const failedCall = (e: SimCallLogEntry): boolean =>
  e.status !== 200 || (e.errcode !== null && e.errcode !== 0)

/** A replica's start-up secret check comes this soon after it starts (wechat.verifySecretOnStart). */
export const SECRET_CHECK_WINDOW_MS = 15_000

/**
 * The broker's token calls beyond the minimum. The minimum is one call per generation that was
 * due — the first one, and each one obtained at or after the planned refresh of the one before —
 * plus each replica start's secret check (a normal-mode stable_token call per app, when the
 * replica took the token from the store). Everything else is extra: failed calls, tokens WeChat
 * issued that never became a generation (a crash or a fenced write), stable answers that handed
 * back the same token, and generations made before their time (a report, an admin refresh).
 */
export function extraCalls(run: SoakRun): {
  extra: ExtraCall[]
  calls: Record<AppName, number>
  minimum: Record<AppName, number>
} {
  const extra: ExtraCall[] = []
  const calls = {} as Record<AppName, number>
  const minimum = {} as Record<AppName, number>
  const starts = [...(run.replicaStarts ?? [])].sort((a, b) => a.t - b.t)
  for (const app of APPS) {
    // A faulted call's log entry has no appid (the fault answers before the app is read); each
    // app's token endpoint is its own, except the other app's secret checks on stable_token.
    // Up to the end of the run: the store is not watched after it, so later tokens are unknown.
    const entries = run.tokenCalls
      .filter(
        (e) =>
          e.endpoint === app.tokenApi &&
          (e.appid === app.appid || e.appid === null) &&
          e.at <= run.endedAt
      )
      .sort((a, b) => a.at - b.at)
    const tokens: SimTokenView[] = (run.simTokens[app.name] ?? []).filter(
      (t) => t.issuedAt <= run.endedAt
    )
    const foreign = run.foreign.filter((f) => f.app === app.name)
    const foreignIds = new Set(foreign.flatMap((f) => (f.token ? [f.token] : [])))
    // The driver's own calls are not the broker's: drop the log entry nearest to each.
    const own = [...entries]
    for (const f of foreign) {
      const at = tokens.find((t) => t.id === f.token)?.issuedAt ?? f.t
      let best = -1
      for (let i = 0; i < own.length; i++) {
        if (best < 0 || Math.abs(own[i]!.at - at) < Math.abs(own[best]!.at - at)) best = i
      }
      if (best >= 0) own.splice(best, 1)
    }
    // A classic app's secret checks go to stable_token, under its own appid.
    const classicChecks =
      app.kind === 'classic'
        ? run.tokenCalls.filter(
            (e) =>
              e.endpoint === '/cgi-bin/stable_token' && e.appid === app.appid && e.at <= run.endedAt
          )
        : []
    calls[app.name] = own.length + classicChecks.length
    for (const e of own.filter(failedCall))
      extra.push({
        t: e.at,
        app: app.name,
        kind: 'failed',
        why: `failed call (${e.status === 0 ? 'dropped' : e.errcode === null ? `HTTP ${e.status}` : `errcode ${e.errcode}`})`,
      })
    const successes = own.filter((e) => !failedCall(e))
    const issuedBy = new Map<SimCallLogEntry, SimTokenView>()
    const brokerTokens = tokens.filter((t) => !foreignIds.has(t.id))
    for (const token of brokerTokens) {
      // The call that issued it: the latest unmatched success that started before the issue.
      let best: SimCallLogEntry | undefined
      for (const e of successes) if (!issuedBy.has(e) && e.at <= token.issuedAt + 5) best = e
      if (best) issuedBy.set(best, token)
    }
    const gens = new Map(
      run.generations.filter((g) => g.app === app.name).map((g) => [g.generation, g])
    )
    // Each replica start may make one secret check per app, soon after it starts.
    const checkSlots = starts.map((st) => ({ from: st.t, used: false }))
    const isSecretCheck = (at: number): boolean => {
      const slot = checkSlots.find(
        (c) => !c.used && c.from <= at && at <= c.from + SECRET_CHECK_WINDOW_MS
      )
      if (slot) slot.used = true
      return slot !== undefined
    }
    /**
     * A scheduled stable refresh that WeChat answered with the token a replica start's secret check
     * had it issue (normal mode, inside the renew window) a moment before: the check's call is
     * matched to that generation as its issuer, so this call, the generation's own, is due too.
     */
    const refreshGotCheckToken = (e: SimCallLogEntry): boolean => {
      const gen = run.generations.find(
        (g) => g.app === app.name && g.obtainedAt >= e.at - 1000 && g.obtainedAt <= e.at + 2000
      )
      if (!gen) return false
      const issuer = [...issuedBy].find(([, t]) => t.id === gen.tokenId)?.[0]
      return (
        issuer !== undefined &&
        issuer.at < e.at &&
        starts.some((st) => st.t <= issuer.at && issuer.at <= st.t + SECRET_CHECK_WINDOW_MS)
      )
    }
    let due = 0
    for (const e of classicChecks) {
      if (isSecretCheck(e.at)) due++
      else
        extra.push({
          t: e.at,
          app: app.name,
          kind: 'stray-check',
          why: 'a stable_token call for a classic app, not at a start',
        })
    }
    for (const e of successes) {
      const token = issuedBy.get(e)
      const gen = token && run.generations.find((g) => g.app === app.name && g.tokenId === token.id)
      if (gen) {
        const previous = gens.get(gen.generation - 1)
        if (!previous || gen.obtainedAt >= plannedAt(previous, app.kind) - 1) due++
        else
          extra.push({
            t: gen.obtainedAt,
            app: app.name,
            kind: 'early',
            why: `generation ${gen.generation} made before generation ${previous.generation} was due`,
          })
      } else if (isSecretCheck(e.at)) {
        due++ // a stable secret check; in the soak's short renew window it may issue a token
      } else if (refreshGotCheckToken(e)) {
        due++ // the generation's own call; the check that issued its token was counted above
      } else {
        extra.push({
          t: token?.issuedAt ?? e.at,
          app: app.name,
          kind: token ? 'unkept' : 'same',
          why: token
            ? 'WeChat issued a token no replica kept'
            : 'WeChat handed back the same token',
        })
      }
    }
    minimum[app.name] = due
  }
  extra.sort((a, b) => a.t - b.t)
  return { extra, calls, minimum }
}

function judgeUpstream(run: SoakRun): {
  violations: Violation[]
  perFault: Map<number, number>
  summary: string
} {
  const { extra, calls, minimum } = extraCalls(run)
  const left = new Map(run.faults.map((f) => [f.planned.step, f.outcome.allowance]))
  const perFault = new Map<number, number>()
  const unexplained: (ExtraCall & { faults: FaultRecord[] })[] = []
  for (const call of extra) {
    const faults = windowsAt(run.faults, call.t)
    for (const f of faults) perFault.set(f.planned.step, (perFault.get(f.planned.step) ?? 0) + 1)
    const payer = faults.find((f) => (left.get(f.planned.step) ?? 0) > 0 && mayForce(f, call))
    if (payer) left.set(payer.planned.step, left.get(payer.planned.step)! - 1)
    else unexplained.push({ ...call, faults })
  }
  const violations = grouped(run, unexplained, 'upstream', (group) => {
    const whys = new Map<string, number>()
    for (const c of group) whys.set(`${c.app}: ${c.why}`, (whys.get(`${c.app}: ${c.why}`) ?? 0) + 1)
    return `${group.length} extra call(s) no fault accounts for: ${[...whys].map(([w, n]) => `${n}× ${w}`).join('; ')}`
  })
  const total = APPS.reduce((n, a) => n + calls[a.name], 0)
  const min = APPS.reduce((n, a) => n + minimum[a.name], 0)
  const allowed = run.faults.reduce((n, f) => n + f.outcome.allowance, 0)
  return {
    violations,
    perFault,
    summary: `${total} calls, minimum ${min}, extra ${extra.length} (allowed ${allowed}), unexplained ${unexplained.length}`,
  }
}

/** How soon the replicas must have put a count back that the store lost with its data. */
const RESTORED_WITHIN_MS = 10_000

function judgeQuota(run: SoakRun): { violations: Violation[]; below: number } {
  const isBelow = (q: SoakRun['quota'][number]): boolean => {
    const foreign = run.foreign.filter((f) => f.app === q.app && f.t <= q.t).length
    return q.store < q.wechat - foreign
  }
  const violations: Violation[] = []
  let below = 0
  // A store that loses its data (every node restarted empty) loses the day's counters with it; the
  // replicas put back what they know on reconnecting and at each sync (docs/engine.md), so a
  // stretch below that ends within RESTORED_WITHIN_MS is the restore at work. A stretch that lasts
  // longer, or lasts to the end, is a lost count: one violation, charged to the faults under way
  // when it began.
  for (const app of APPS) {
    const samples = run.quota.filter((q) => q.app === app.name).sort((a, b) => a.t - b.t)
    let stretch: typeof samples = []
    const close = (restored: boolean): void => {
      if (stretch.length === 0) return
      const first = stretch[0]!
      if (restored && stretch.at(-1)!.t - first.t <= RESTORED_WITHIN_MS) {
        stretch = []
        return
      }
      const worst = stretch.reduce((w, q) => (q.wechat - q.store > w.wechat - w.store ? q : w))
      const faults = windowsAt(run.faults, first.t)
      violations.push({
        invariant: 'quota',
        faults: steps(faults),
        detail: `${app.name}: the broker's count fell below WeChat's at ${clock(run, first.t)} (${first.store} vs ${first.wechat}) and stayed below for ${stretch.length} sample(s) to ${clock(run, stretch.at(-1)!.t)}; worst ${worst.store} vs ${worst.wechat}; began ${during(faults)}`,
      })
      stretch = []
    }
    for (const q of samples) {
      if (isBelow(q)) {
        below++
        stretch.push(q)
      } else close(true)
    }
    close(false)
  }
  for (const q of run.finalQuota) {
    const foreign = run.foreign.filter((f) => f.app === q.app).length
    const seen = q.replicas.filter((n): n is number => n !== null)
    if (q.wechat !== null && seen.length > 0 && Math.max(...seen) < q.wechat - foreign)
      violations.push({
        invariant: 'quota',
        faults: [],
        detail: `at the end, GET /v1/apps shows ${q.app} quota used ${seen.join('/')} (replicas) while WeChat counted ${q.wechat} (${foreign} of them the driver's)`,
      })
  }
  return { violations, below }
}

function judgeExits(run: SoakRun): Violation[] {
  const violations: Violation[] = []
  for (const e of run.replicaExits) {
    const bad = e.endedBy === null || (e.endedBy === 'term' && e.code !== 0)
    if (!bad) continue
    const faults = windowsAt(run.faults, e.t)
    violations.push({
      invariant: 'exits',
      faults: steps(faults),
      detail: `replica ${e.replica} (incarnation ${e.incarnation}) exited ${e.code ?? e.signal}${e.endedBy === 'term' ? ' after SIGTERM' : ' unasked'} at ${clock(run, e.t)}, ${during(faults)}${e.stderrTail ? `; stderr: ${e.stderrTail.trim().split('\n').slice(-3).join(' | ')}` : ''}`,
    })
  }
  for (const e of run.clientExits) {
    if (e.expected && e.code === 0) continue
    violations.push({
      invariant: 'exits',
      faults: [],
      detail: `client ${e.client} exited ${e.code ?? e.signal}${e.expected ? ' on SIGTERM' : ' unasked'}; stderr: ${e.stderrTail.trim().split('\n').slice(-3).join(' | ')}`,
    })
  }
  const seen = new Set<string>()
  for (const u of run.unexpected) {
    if (seen.has(u.what)) continue
    seen.add(u.what)
    violations.push({
      invariant: 'exits',
      faults: steps(windowsAt(run.faults, u.t)),
      detail: `${u.what} at ${clock(run, u.t)}`,
    })
  }
  return violations
}

function judgeRecovery(run: SoakRun): Violation[] {
  const violations: Violation[] = []
  for (const f of run.faults) {
    if (f.outcome.injected && !withinBound(f))
      violations.push({
        invariant: 'recovery',
        faults: [f.planned.step],
        detail: `#${f.planned.step} ${f.planned.kind}: not every replica was ready and serving a live token ${TIMING.recoveryBoundMs / 1000} s after it ended (${f.recoveredAt === null ? `not within ${TIMING.recoveryCapMs / 1000} s` : `after ${(recoveryMs(f)! / 1000).toFixed(1)} s`})`,
      })
    for (const v of f.outcome.violations)
      violations.push({
        invariant: v.includes('retry loop')
          ? 'upstream'
          : v.includes('exit')
            ? 'exits'
            : 'recovery',
        faults: [f.planned.step],
        detail: `#${f.planned.step} ${f.planned.kind}: ${v}`,
      })
  }
  return violations
}

/** What the run showed beyond the invariants. */
function observations(run: SoakRun): string[] {
  const notes: string[] = []
  for (const f of run.faults) {
    if (f.planned.kind === 'redis-majority-down') {
      const samples = run.readiness.filter((r) => r.t >= f.start && r.t <= f.effectEnd)
      const notReady = new Set(samples.filter((r) => r.ready === false).map((r) => r.replica))
      notes.push(
        notReady.size === 0
          ? `#${f.planned.step} redis-majority-down: every replica stayed ready (/readyz 200) through the outage`
          : `#${f.planned.step} redis-majority-down: ${notReady.size} of 3 replicas answered /readyz 503 during the outage (design §3.7: a replica that can serve stays ready; issue #14)`
      )
    }
    if (f.planned.kind === 'holder-pause' && f.outcome.injected) {
      const fenced = run.replicaLogs.filter(
        (l) =>
          l.msg === 'refresh lost its lock; write refused' && l.t >= f.start && l.t <= f.windowEnd
      )
      notes.push(
        `#${f.planned.step} holder-pause: ${fenced.length ? `fenced — "refresh lost its lock; write refused" (${String(fenced[0]!.fields.written)}) from replica ${fenced[0]!.replica}` : 'no fenced write was logged'}`
      )
    }
  }
  // States other than ok on a replica that kept serving (e.g. quota_exhausted left after 45009).
  const open = new Map<string, { state: string; since: number }>()
  const spans: string[] = []
  const close = (key: string, until: number | undefined): void => {
    const o = open.get(key)
    if (!o || o.state === 'ok' || o.state === 'cold') return
    const [replica, app] = key.split(':')
    spans.push(
      `${app} on replica ${replica}: ${o.state} from ${clock(run, o.since)} ${until === undefined ? 'to the end' : `to ${clock(run, until)}`}`
    )
  }
  for (const st of [...run.replicaStates].sort((a, b) => a.t - b.t)) {
    const key = `${st.replica}:${st.app}`
    if (open.get(key)?.state === st.state) continue
    close(key, st.t)
    open.set(key, { state: st.state, since: st.t })
  }
  for (const key of open.keys()) close(key, undefined)
  if (spans.length) notes.push(`app states other than ok: ${spans.join('; ')}`)
  for (const app of APPS) {
    const gens = run.generations.filter((g) => g.app === app.name).map((g) => g.generation)
    const missed = gens.length ? Math.max(...gens) - gens.length : 0
    if (missed > 0)
      notes.push(
        `${app.name}: ${missed} generation(s) replaced before the observer read them (counted as extra if not due)`
      )
  }
  return notes
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!
}

export { percentile }

export function judge(run: SoakRun): Verdict {
  const refused = judgeRefusals(run)
  const upstream = judgeUpstream(run)
  const quota = judgeQuota(run)
  const violations = [
    ...refused.violations,
    ...judgeClientErrors(run),
    ...judgeGenerations(run),
    ...upstream.violations,
    ...quota.violations,
    ...judgeExits(run),
    ...judgeRecovery(run),
  ]
  const count = (id: InvariantId): number => violations.filter((v) => v.invariant === id).length
  const inFaults = (faults: FaultRecord[], t: number): boolean =>
    faults.some((f) => f.start <= t && t <= f.windowEnd)

  const kinds = [...new Set(run.faults.map((f) => f.planned.kind))]
  const rows: KindRow[] = kinds.map((kind) => {
    const faults = run.faults.filter((f) => f.planned.kind === kind)
    const stepsOfKind = new Set(steps(faults))
    return {
      kind,
      executed: faults.length,
      injected: faults.filter((f) => f.outcome.injected).length,
      calls: run.calls.filter((c) => inFaults(faults, c.t)).length,
      refused: refused.all.filter((r) => inFaults(faults, r.t)).length,
      clientErrors: run.calls.filter((c) => !c.ok && inFaults(faults, c.t)).length,
      recoveryMs: faults
        .filter((f) => f.outcome.injected && f.recoveredAt !== null)
        .map((f) => recoveryMs(f)!)
        .sort((a, b) => a - b),
      extra: faults.reduce((n, f) => n + (upstream.perFault.get(f.planned.step) ?? 0), 0),
      allowance: faults.reduce((n, f) => n + f.outcome.allowance, 0),
      violations: violations.filter((v) => v.faults.some((s) => stepsOfKind.has(s))).length,
    }
  })
  const recoveryAll = rows.flatMap((r) => r.recoveryMs).sort((a, b) => a - b)
  const { extra } = extraCalls(run)
  const totals = {
    faults: run.faults.length,
    executed: run.faults.length,
    injected: run.faults.filter((f) => f.outcome.injected).length,
    calls: run.calls.length,
    refused: refused.all.length,
    clientErrors: run.calls.filter((c) => !c.ok).length,
    recoveryMs: recoveryAll,
    extra: extra.length,
    allowance: run.faults.reduce((n, f) => n + f.outcome.allowance, 0),
    violations: violations.length,
  }
  const refusedOutside = refused.violations.reduce(
    (n, v) => n + Number(/^(\d+)/.exec(v.detail)?.[1] ?? 0),
    0
  )
  const invariants: InvariantResult[] = [
    { id: 'refused', observed: `${totals.refused} refused, ${refusedOutside} outside a revoke` },
    { id: 'clientErrors', observed: `${totals.clientErrors} of ${totals.calls} calls` },
    { id: 'generations', observed: `${count('generations')} regressions` },
    { id: 'upstream', observed: upstream.summary },
    { id: 'quota', observed: `${quota.below} of ${run.quota.length} samples below` },
    { id: 'exits', observed: `${count('exits')}` },
    { id: 'recovery', observed: `${count('recovery')} of ${totals.injected} faults` },
  ].map((r) => ({
    ...r,
    id: r.id as InvariantId,
    title: INVARIANTS[r.id as InvariantId].title,
    target: INVARIANTS[r.id as InvariantId].target,
    ok: count(r.id as InvariantId) === 0,
  }))
  return { invariants, rows, totals, violations, notes: observations(run) }
}
