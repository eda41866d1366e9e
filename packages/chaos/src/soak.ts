import { Clients, type ClientCall, type ClientExit } from './clients.js'
import { Cluster } from './cluster.js'
import { inject, type FaultContext, type FaultOutcome } from './faults.js'
import {
  Observer,
  type GenerationRecord,
  type QuotaSample,
  type ReadinessSample,
  type ReplicaGeneration,
  type ReplicaState,
  type UnexpectedStop,
} from './observer.js'
import type { SimCallLogEntry } from '@wxbroker/wechat-sim'
import {
  describePlanned,
  FAULT_KINDS,
  planFaults,
  resourcesOf,
  type FaultKind,
  type PlannedFault,
} from './plan.js'
import { seededRandom } from './random.js'
import type { Replica, ReplicaExit, ReplicaLogLine } from './replica.js'
import { APPS, TIMING, tokenId, type AppName } from './settings.js'
import { sleep, waitUntil } from './wait.js'

export interface SoakOptions {
  seed: number
  minutes: number
  /** Only these kinds (default: all). */
  kinds?: readonly FaultKind[]
  clients?: number
  /** Progress lines (the seed, one line per fault). */
  log?: (line: string) => void
}

/** One fault as it ran. */
export interface FaultRecord {
  planned: PlannedFault
  description: string
  start: number
  /** When the injected condition ended. */
  effectEnd: number
  /** When it and every fault overlapping it had ended: the recovery is timed from here. */
  recoveryFrom: number
  /**
   * When every replica was ready and served a token WeChat accepts again (measured past the bound,
   * up to TIMING.recoveryCapMs); null: not even then.
   */
  recoveredAt: number | null
  /** Until when events are attributed to this fault (recovery, consequences, a short grace). */
  windowEnd: number
  outcome: FaultOutcome
  /** The fault itself failed (e.g. a replica did not restart). */
  error?: string
}

/** Everything a run produced, for the invariants and the report. */
export interface SoakRun {
  options: Required<Omit<SoakOptions, 'log' | 'kinds'>> & { kinds: readonly FaultKind[] }
  plan: PlannedFault[]
  faults: FaultRecord[]
  startedAt: number
  endedAt: number
  calls: ClientCall[]
  clientExits: ClientExit[]
  replicaExits: ReplicaExit[]
  replicaStarts: Replica['starts']
  replicaLogs: ReplicaLogLine[]
  /** What the observer saw: store generations, readiness, replica generations, quota samples. */
  generations: GenerationRecord[]
  readiness: ReadinessSample[]
  replicaGenerations: ReplicaGeneration[]
  replicaStates: ReplicaState[]
  quota: QuotaSample[]
  unexpected: UnexpectedStop[]
  /** The simulator's log of every call to a token endpoint. */
  tokenCalls: SimCallLogEntry[]
  /** Every token WeChat issued, per app, in issue order (by id, never the token). */
  simTokens: Record<AppName, SimTokenView[]>
  foreign: FaultContext['foreign']
  /** GET /v1/apps quota.used per replica and app at the end, and WeChat's figure. */
  finalQuota: { app: AppName; replicas: (number | null)[]; wechat: number | null }[]
}

export interface SimTokenView {
  id: string
  issuedAt: number
  expiresAt: number
  retiredAt?: number
}

/** Whether a fault's recovery came within TIMING.recoveryBoundMs of its end. */
export function withinBound(f: Pick<FaultRecord, 'recoveredAt' | 'recoveryFrom'>): boolean {
  return f.recoveredAt !== null && f.recoveredAt - f.recoveryFrom <= TIMING.recoveryBoundMs
}

/** How long a fault took to recover, in ms (null: not within the cap). */
export function recoveryMs(f: Pick<FaultRecord, 'recoveredAt' | 'recoveryFrom'>): number | null {
  return f.recoveredAt === null ? null : f.recoveredAt - f.recoveryFrom
}

/** Events up to this long after a fault's recovery still count as its own. */
export const GRACE_MS = 3_000

/** Every replica ready and serving, for both apps, a token WeChat accepts now. */
async function whole(cluster: Cluster): Promise<boolean> {
  for (const replica of cluster.replicas) {
    if (!replica.serving) return false
    if ((await cluster.ready(replica))?.ready !== true) return false
    for (const app of APPS) {
      const token = await cluster.servedToken(replica, app)
      if (token === undefined || !(await cluster.sim.admin.checkToken(token)).valid) return false
    }
  }
  return true
}

async function recovery(cluster: Cluster, boundMs: number): Promise<number | null> {
  const ok = await waitUntil(() => whole(cluster).catch(() => false), boundMs, 200)
  return ok ? Date.now() : null
}

/**
 * Runs the soak: starts the system, lets the clients run, injects the seeded schedule until the
 * time is up, then stops everything and returns what it saw. Invariants are judged by the caller
 * (invariants.ts). Every process it starts is stopped before it returns, whatever happens.
 */
export async function runSoak(options: SoakOptions): Promise<SoakRun> {
  const log = options.log ?? (() => undefined)
  const kinds = options.kinds ?? FAULT_KINDS
  const random = seededRandom(options.seed)
  const plan = planFaults(random.fork(), options.minutes, kinds)
  const clientSeeds = Array.from({ length: options.clients ?? 3 }, () => random.int(1, 2 ** 30))

  const cluster = await Cluster.start()
  const observer = new Observer(cluster)
  let clients: Clients | undefined
  const faults: FaultRecord[] = []
  const ctx: FaultContext = { cluster, observer, foreign: [] }
  const watches: Promise<unknown>[] = []
  let startedAt = Date.now()
  let run: Omit<SoakRun, 'replicaExits' | 'replicaLogs' | 'replicaStarts'>
  try {
    run = await drive()
  } finally {
    await clients?.stop()
    await observer.stop()
    await cluster.stop()
  }
  // After the final stop, so that its exits (SIGTERM, expected to be 0) are judged too.
  return {
    ...run,
    replicaExits: cluster.replicas.flatMap((r) => r.exits),
    replicaStarts: cluster.replicas.flatMap((r) => r.starts),
    replicaLogs: cluster.replicas.flatMap((r) => r.logLines()),
  }

  async function drive(): Promise<Omit<SoakRun, 'replicaExits' | 'replicaLogs' | 'replicaStarts'>> {
    await observer.start()
    clients = await Clients.start(clientSeeds.length, {
      brokerUrls: cluster.replicas.map((r) => r.url),
      apiKey: cluster.secrets.clientKey,
      wechatUrl: cluster.sim.url,
      apps: APPS.map((a) => ({ appid: a.appid, tokenApi: a.tokenApi })),
      seeds: clientSeeds,
      minIntervalMs: 50,
      maxIntervalMs: 200,
      skewSeconds: TIMING.clientSkewSeconds,
    })
    if ((await recovery(cluster, 30_000)) === null)
      throw new Error('the system did not come up whole within 30 s')
    startedAt = Date.now()
    const deadline = startedAt + options.minutes * 60_000
    // Token-retiring faults of one app wait out the report cooldown of the one before (see
    // docs/reliability.md): a second report-driven refresh within it is refused by design.
    const tokensFreeAt = new Map<string, number>()

    // Faults whose injected condition still lasts: a fault's recovery is timed from when it and
    // every fault overlapping it have ended (a replica paused by another fault is not ready).
    const injecting = new Set<Promise<unknown>>()
    const runOne = async (planned: PlannedFault): Promise<void> => {
      const tokenResources = resourcesOf(planned).filter((r) => r.startsWith('tokens:'))
      await sleep(
        Math.max(0, ...tokenResources.map((r) => (tokensFreeAt.get(r) ?? 0) - Date.now()))
      )
      const description = describePlanned(planned)
      const start = Date.now()
      let outcome: FaultOutcome
      let error: string | undefined
      const injected = inject(ctx, planned)
      injecting.add(injected)
      try {
        outcome = await injected
      } catch (e) {
        error = (e as Error).message
        outcome = {
          injected: true,
          effectEnd: Date.now(),
          allowance: 0,
          refusalsAllowed: false,
          notes: [],
          violations: [`the fault could not be carried out: ${error}`],
        }
      }
      injecting.delete(injected)
      await Promise.allSettled([...injecting])
      const recoveryFrom = Math.max(outcome.effectEnd, Date.now())
      const recoveredAt = await recovery(cluster, TIMING.recoveryCapMs)
      const record: FaultRecord = {
        planned,
        description,
        start,
        effectEnd: outcome.effectEnd,
        recoveryFrom,
        recoveredAt,
        windowEnd: (recoveredAt ?? outcome.effectEnd + TIMING.recoveryCapMs) + GRACE_MS,
        outcome,
        ...(error === undefined ? {} : { error }),
      }
      for (const r of tokenResources) tokensFreeAt.set(r, Date.now() + TIMING.cooldownMs)
      if (outcome.watch) {
        watches.push(
          outcome.watch.then((until) => {
            record.windowEnd = Math.max(record.windowEnd, until + GRACE_MS)
          })
        )
      }
      faults.push(record)
      const rec =
        recoveredAt === null
          ? `NOT recovered within ${TIMING.recoveryCapMs / 1000} s`
          : `${withinBound(record) ? 'recovered' : 'LATE: recovered'} in ${((recoveredAt - recoveryFrom) / 1000).toFixed(1)} s`
      const state = outcome.injected ? rec : 'not met (nothing to hit)'
      log(
        `[${((start - startedAt) / 1000).toFixed(0).padStart(4)} s] #${planned.step} ${planned.kind}: ${description} — ${state}${outcome.notes.length ? `; ${outcome.notes.join('; ')}` : ''}`
      )
    }

    let i = 0
    while (i < plan.length && Date.now() < deadline) {
      const step = plan[i]!
      const next = plan[i + 1]
      if (step.overlapNextAfterMs !== null && next) {
        const first = runOne(step)
        await sleep(step.overlapNextAfterMs)
        await Promise.all([first, runOne(next)])
        i += 2
        await sleep(next.gapMs)
      } else {
        await runOne(step)
        i += 1
        await sleep(step.gapMs)
      }
    }
    // Consequences that come later (a token that runs out) get their time, within the token life.
    await Promise.race([Promise.all(watches), sleep(APPS[1]!.lifeSeconds * 1000)])
    // Let every replica's periodic store sync (5 s) catch up before the final counts are read.
    await sleep(6_000)
    const endedAt = Date.now()
    await clients.stop()
    await observer.stop()
    const simTokens = {} as SoakRun['simTokens']
    const finalQuota: SoakRun['finalQuota'] = []
    const views = await Promise.all(cluster.replicas.map((r) => cluster.appViews(r)))
    for (const app of APPS) {
      const { all } = await cluster.sim.admin.tokens(app.appid, app.kind)
      simTokens[app.name] = all.map(({ token, issuedAt, expiresAt, retiredAt }) => ({
        id: tokenId(token),
        issuedAt,
        expiresAt,
        ...(retiredAt === undefined ? {} : { retiredAt }),
      }))
      finalQuota.push({
        app: app.name,
        replicas: views.map((v) => v?.find((a) => a.appid === app.appid)?.quota.used ?? null),
        wechat: observer.quota.filter((q) => q.app === app.name).at(-1)?.wechat ?? null,
      })
    }
    return {
      options: {
        seed: options.seed,
        minutes: options.minutes,
        clients: clientSeeds.length,
        kinds,
      },
      plan,
      faults,
      startedAt,
      endedAt,
      calls: clients?.calls ?? [],
      clientExits: clients?.exits ?? [],
      generations: [...observer.generations.values()].flat(),
      readiness: observer.readiness,
      replicaGenerations: observer.replicaGenerations,
      replicaStates: observer.replicaStates,
      quota: observer.quota,
      unexpected: observer.unexpected,
      tokenCalls: observer.callLog(),
      simTokens,
      foreign: ctx.foreign,
      finalQuota,
    }
  }
}
