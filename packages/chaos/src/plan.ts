import type { Random } from './random.js'
import type { AppName } from './settings.js'

// The fault schedule: which faults, with which parameters, in which order, with which gaps and
// overlaps. Everything here comes from the seed, so one seed always gives the same plan; only the
// moments at which faults meet the system (a refresh, a token's age) depend on the run.

export const FAULT_KINDS = [
  'redis-node-restart',
  'redis-majority-down',
  'replica-kill',
  'holder-pause',
  'holder-kill-after-issue',
  'wechat-minus1-burst',
  'wechat-5xx',
  'wechat-latency',
  'wechat-drop',
  'wechat-45009',
  'stable-force-45009',
  'wechat-40164',
  'token-revoked',
  'foreign-refresh',
  'rolling-restart',
] as const

export type FaultKind = (typeof FAULT_KINDS)[number]

export interface FaultParams {
  app?: AppName
  /** Redis node or replica index. */
  target?: number
  targets?: number[]
  /** How long the injected condition lasts (a node or replica down, an errcode answered). */
  durationMs?: number
  times?: number
  status?: number
}

export interface PlannedFault {
  step: number
  kind: FaultKind
  params: FaultParams
  /** Pause after this fault has recovered, before the next one starts. */
  gapMs: number
  /** Start the next fault this long after this one starts, while this one runs (disjoint resources only). */
  overlapNextAfterMs: number | null
}

interface KindInfo {
  /** Rough duration, used only to decide how many faults a run of N minutes plans. */
  estimateMs: number
  /** What it touches; faults overlap only when these are disjoint. */
  resources: (p: FaultParams) => string[]
  params: (random: Random) => FaultParams
}

const endpoint = (app: AppName | undefined): string => `endpoint:${app ?? 'classic'}`
const tokens = (app: AppName | undefined): string => `tokens:${app ?? 'classic'}`
/** Transient WeChat faults mostly hit the classic app: its refreshes come every 30-36 s. */
const someApp = (random: Random): AppName => (random.chance(0.75) ? 'classic' : 'stable')

export const KINDS: Record<FaultKind, KindInfo> = {
  'redis-node-restart': {
    estimateMs: 8_000,
    resources: () => ['redis'],
    params: (r) => ({ target: r.int(0, 2), durationMs: r.int(1_000, 4_000) }),
  },
  'redis-majority-down': {
    estimateMs: 12_000,
    resources: () => ['redis'],
    params: (r) => ({ targets: r.shuffle([0, 1, 2]).slice(0, 2), durationMs: r.int(3_000, 6_000) }),
  },
  'replica-kill': {
    estimateMs: 12_000,
    resources: () => ['replicas'],
    params: (r) => ({ target: r.int(0, 2), durationMs: r.int(1_000, 3_000) }),
  },
  'holder-pause': {
    estimateMs: 45_000,
    resources: () => ['replicas', endpoint('classic')],
    params: () => ({ app: 'classic', durationMs: 24_000 }),
  },
  'holder-kill-after-issue': {
    estimateMs: 35_000,
    resources: () => ['replicas', endpoint('classic')],
    params: (r) => ({ app: 'classic', durationMs: r.int(1_000, 2_000) }),
  },
  'wechat-minus1-burst': {
    estimateMs: 25_000,
    resources: (p) => [endpoint(p.app)],
    params: (r) => ({ app: someApp(r), times: r.int(2, 3) }),
  },
  'wechat-5xx': {
    estimateMs: 25_000,
    resources: (p) => [endpoint(p.app)],
    params: (r) => ({ app: someApp(r), times: r.int(1, 3), status: r.pick([500, 502, 503]) }),
  },
  'wechat-latency': {
    estimateMs: 35_000,
    resources: (p) => [endpoint(p.app)],
    params: (r) => ({ app: someApp(r), times: 1, durationMs: 12_000 }),
  },
  'wechat-drop': {
    estimateMs: 25_000,
    resources: (p) => [endpoint(p.app)],
    params: (r) => ({ app: someApp(r), times: r.int(1, 2) }),
  },
  'wechat-45009': {
    estimateMs: 40_000,
    resources: () => [endpoint('classic'), tokens('classic')],
    params: (r) => ({ app: 'classic', durationMs: r.int(5_000, 10_000) }),
  },
  'stable-force-45009': {
    estimateMs: 10_000,
    resources: () => [endpoint('stable'), tokens('stable')],
    params: (r) => ({ app: 'stable', target: r.int(0, 2) }),
  },
  'wechat-40164': {
    estimateMs: 90_000,
    resources: () => [endpoint('stable')],
    params: (r) => ({ app: 'stable', durationMs: r.int(5_000, 12_000) }),
  },
  'token-revoked': {
    estimateMs: 8_000,
    resources: (p) => [tokens(p.app)],
    params: (r) => ({ app: r.pick(['classic', 'stable'] as const) }),
  },
  'foreign-refresh': {
    estimateMs: 60_000,
    resources: () => [endpoint('classic'), tokens('classic')],
    params: () => ({ app: 'classic' }),
  },
  'rolling-restart': {
    estimateMs: 30_000,
    resources: () => ['replicas'],
    params: (r) => ({ targets: r.shuffle([0, 1, 2]) }),
  },
}

const disjoint = (a: string[], b: string[]): boolean => !a.some((x) => b.includes(x))

/**
 * Rounds of every allowed kind in a seeded order, until the estimates fill `minutes`. Every kind
 * appears once per round, so a long enough run covers each of them; about a third of the faults
 * start while the previous one still runs, when they touch different parts.
 */
export function planFaults(
  random: Random,
  minutes: number,
  kinds: readonly FaultKind[] = FAULT_KINDS
): PlannedFault[] {
  const budgetMs = minutes * 60_000
  // The plan depends on the set of kinds, not on the order they were named in.
  const allowed = FAULT_KINDS.filter((k) => kinds.includes(k))
  const plan: PlannedFault[] = []
  let estimate = 0
  while (estimate < budgetMs || plan.length === 0) {
    for (const kind of random.shuffle(allowed)) {
      const params = KINDS[kind].params(random)
      plan.push({
        step: plan.length + 1,
        kind,
        params,
        gapMs: random.int(2_000, 6_000),
        overlapNextAfterMs: random.chance(0.35) ? random.int(500, 4_000) : null,
      })
      estimate += KINDS[kind].estimateMs
    }
  }
  // An overlap is kept only where the two faults touch different parts of the system.
  for (let i = 0; i < plan.length; i++) {
    const next = plan[i + 1]
    const step = plan[i]!
    if (
      step.overlapNextAfterMs !== null &&
      (!next ||
        !disjoint(KINDS[step.kind].resources(step.params), KINDS[next.kind].resources(next.params)))
    )
      step.overlapNextAfterMs = null
  }
  return plan
}

export function resourcesOf(fault: PlannedFault): string[] {
  return KINDS[fault.kind].resources(fault.params)
}

/** One line per planned fault, for the console and the report. */
export function describePlanned(f: PlannedFault): string {
  const p = f.params
  const s = (ms: number | undefined): string => `${((ms ?? 0) / 1000).toFixed(1)} s`
  switch (f.kind) {
    case 'redis-node-restart':
      return `SIGKILL Redis node ${p.target}, restart it empty after ${s(p.durationMs)}`
    case 'redis-majority-down':
      return `SIGKILL Redis nodes ${p.targets?.join(' and ')}, restart them empty after ${s(p.durationMs)}`
    case 'replica-kill':
      return `SIGKILL replica ${p.target}, restart it after ${s(p.durationMs)}`
    case 'holder-pause':
      return `SIGSTOP the replica whose ${p.app} refresh WeChat answered, for ${s(p.durationMs)} (past its 10 s lease), then SIGCONT`
    case 'holder-kill-after-issue':
      return `SIGKILL the replica whose ${p.app} token WeChat issued before it could write it; restart after ${s(p.durationMs)}`
    case 'wechat-minus1-burst':
      return `the next ${p.times} ${p.app} token calls answer -1`
    case 'wechat-5xx':
      return `the next ${p.times} ${p.app} token calls answer HTTP ${p.status}`
    case 'wechat-latency':
      return `the next ${p.app} token call takes ${s(p.durationMs)} (past the 10 s lease)`
    case 'wechat-drop':
      return `the next ${p.times} ${p.app} token calls lose their connection`
    case 'wechat-45009':
      return `${p.app} token calls answer 45009 for ${s(p.durationMs)} after the first; then WeChat's quota is cleared and an operator forces a refresh`
    case 'stable-force-45009':
      return `an operator forces a stable refresh on replica ${p.target}; WeChat answers 45009 (force_refresh budget spent)`
    case 'wechat-40164':
      return `${p.app} token calls answer 40164 (IP not allow-listed) for ${s(p.durationMs)} after the first`
    case 'token-revoked':
      return `WeChat revokes the ${p.app} token (a leak)`
    case 'foreign-refresh':
      return `someone else calls /cgi-bin/token with the ${p.app} app's real secret, right after the broker's refresh`
    case 'rolling-restart':
      return `rolling restart: SIGTERM and restart replicas ${p.targets?.join(', ')} one by one`
  }
}
