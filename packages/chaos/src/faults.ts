import type { SimFault } from '@wxbroker/wechat-sim'
import type { Cluster } from './cluster.js'
import type { Observer } from './observer.js'
import type { PlannedFault } from './plan.js'
import type { Replica } from './replica.js'
import { app as appNamed, TIMING, tokenId, type AppName, type ChaosApp } from './settings.js'
import { pidOfLocalPort } from './socket-owner.js'
import { sleep, waitUntil } from './wait.js'

// How each fault kind is injected. A fault returns when the condition it injects is over; the
// soak then measures the recovery. Faults that hit WeChat's token endpoint are aimed at the app's
// next planned refresh (read from the store's record), since only a refresh meets them.

export interface FaultContext {
  cluster: Cluster
  observer: Observer
  /** The driver's own token calls (a "staging fleet"), left out of the broker's counts. */
  foreign: { app: AppName; t: number; token: string | undefined }[]
}

export interface FaultOutcome {
  /** False when the fault never met the system (e.g. no refresh came while it was armed). */
  injected: boolean
  /** When the injected condition ended. */
  effectEnd: number
  /** Upstream token calls this fault may force beyond the minimum (docs/reliability.md). */
  allowance: number
  /** Whether WeChat may refuse served tokens because of it (it retires tokens itself). */
  refusalsAllowed: boolean
  /** Consequences may show up until then (e.g. until the next generation); resolved in background. */
  watch?: Promise<number>
  notes: string[]
  /** Broken expectations seen while injecting (a retry loop, a graceful stop that failed). */
  violations: string[]
}

const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`

/** When the broker plans to replace the app's current record (jitter only delays it). */
export function plannedRefreshAt(ctx: FaultContext, app: ChaosApp): number | undefined {
  const record = ctx.observer.latest(app.name)
  if (!record) return undefined
  if (app.kind === 'stable') return record.wechatExpiresAt - TIMING.stableRefreshBeforeExpiryMs
  const life = record.wechatExpiresAt - record.obtainedAt
  return Math.max(
    record.obtainedAt + life / 2,
    record.wechatExpiresAt - TIMING.refreshLeadSeconds * 1000
  )
}

function jitterOf(app: ChaosApp): number {
  return app.kind === 'stable' ? TIMING.stableJitterMs : TIMING.classicJitterMs
}

/** Waits until just before the app's next planned refresh; the bound for it to have happened. */
async function aimAtRefresh(ctx: FaultContext, app: ChaosApp): Promise<number> {
  const planned = plannedRefreshAt(ctx, app) ?? Date.now()
  await sleep(Math.min(planned - 1_500 - Date.now(), app.lifeSeconds * 1000))
  // Contended replicas look again 15 s later: allow for that after the jitter.
  return Math.max(planned, Date.now()) + jitterOf(app) + TIMING.contendedRetryMs + 5_000
}

async function tokenCalls(ctx: FaultContext, app: ChaosApp): Promise<number> {
  return (await ctx.cluster.sim.admin.calls())[app.tokenApi] ?? 0
}

/** Arms a WeChat fault on the app's token endpoint at its next refresh; waits for `times` calls. */
async function armAtRefresh(
  ctx: FaultContext,
  app: ChaosApp,
  fault: Omit<SimFault, 'endpoint'>,
  times: number
): Promise<{ met: boolean; id: number; before: number; firstAt?: number }> {
  const bound = await aimAtRefresh(ctx, app)
  const before = await tokenCalls(ctx, app)
  const { admin } = ctx.cluster.sim
  const id = await admin.addFault({ endpoint: app.tokenApi, ...fault })
  let firstAt: number | undefined
  const met = await waitUntil(
    async () => {
      const n = await tokenCalls(ctx, app)
      if (n > before) firstAt ??= Date.now()
      return n >= before + times
    },
    bound - Date.now(),
    100
  )
  if (!met) await admin.removeFault(id)
  return { met, id, before, ...(firstAt === undefined ? {} : { firstAt }) }
}

/** The replica whose token call WeChat is holding (a holdAfterMs fault), found by its port. */
async function heldReplica(ctx: FaultContext, app: ChaosApp, timeoutMs: number) {
  const { admin } = ctx.cluster.sim
  let found: { replica: Replica; port: number } | undefined
  await waitUntil(
    async () => {
      const held = (await admin.held()).find((h) => h.endpoint === app.tokenApi)
      if (!held?.remotePort) return false
      const pids = ctx.cluster.replicas.flatMap((r) => (r.pid === undefined ? [] : [r.pid]))
      const pid = pidOfLocalPort(held.remotePort, pids)
      const replica = ctx.cluster.replicas.find((r) => r.pid === pid)
      if (replica) found = { replica, port: held.remotePort }
      return found !== undefined
    },
    timeoutMs,
    25
  )
  return found
}

/** Waits until a replica answers /readyz 200 (after a restart). */
async function readyAgain(ctx: FaultContext, replica: Replica): Promise<boolean> {
  return waitUntil(
    async () => (await ctx.cluster.ready(replica))?.ready === true,
    TIMING.recoveryBoundMs,
    100
  )
}

/** An operator's forced refresh: the first replica that takes it, retrying through a cooldown. */
async function operatorRefresh(ctx: FaultContext, app: ChaosApp, notes: string[]): Promise<void> {
  const deadline = Date.now() + TIMING.cooldownMs + 5_000
  while (Date.now() < deadline) {
    for (const replica of ctx.cluster.replicas.filter((r) => r.serving)) {
      const answer = await ctx.cluster.adminRefresh(replica, app)
      notes.push(
        `operator refresh on replica ${replica.index}: ${answer.status}${answer.code ? ` ${answer.code}` : ''}`
      )
      if (answer.status === 200) return
    }
    await sleep(2_000)
  }
}

/** A new generation of the app in the store, or the current token's expiry (plus a margin). */
function nextGenerationOrExpiry(ctx: FaultContext, app: ChaosApp): Promise<number> {
  const current = ctx.observer.latest(app.name)
  const until = (current?.wechatExpiresAt ?? Date.now()) + 10_000
  return waitUntil(
    () => (ctx.observer.latest(app.name)?.generation ?? 0) > (current?.generation ?? 0),
    until - Date.now(),
    250
  ).then(() => Date.now())
}

function outcome(partial: Partial<FaultOutcome> & { notes: string[] }): FaultOutcome {
  return {
    injected: true,
    effectEnd: Date.now(),
    allowance: 0,
    refusalsAllowed: false,
    violations: [],
    ...partial,
  }
}

/** Injects one planned fault and returns when its condition is over. */
export async function inject(ctx: FaultContext, fault: PlannedFault): Promise<FaultOutcome> {
  const { cluster } = ctx
  const p = fault.params
  const app = appNamed(p.app ?? 'classic')
  const notes: string[] = []
  switch (fault.kind) {
    case 'redis-node-restart':
    case 'redis-majority-down': {
      const targets = p.targets ?? [p.target!]
      for (const i of targets) cluster.redisWanted[i] = false
      await Promise.all(targets.map((i) => cluster.redis.servers[i]!.kill()))
      await sleep(p.durationMs!)
      await Promise.all(targets.map((i) => cluster.redis.servers[i]!.restart()))
      for (const i of targets) cluster.redisWanted[i] = true
      return outcome({ notes })
    }

    case 'replica-kill': {
      const replica = cluster.replicas[p.target!]!
      await replica.kill()
      await sleep(p.durationMs!)
      await replica.start()
      return outcome({ notes })
    }

    case 'holder-pause':
    case 'holder-kill-after-issue': {
      const bound = await aimAtRefresh(ctx, app)
      const holdMs = fault.kind === 'holder-pause' ? 1_000 : 3_000
      const id = await cluster.sim.admin.addFault({
        endpoint: app.tokenApi,
        holdAfterMs: holdMs,
        times: 1,
      })
      const held = await heldReplica(ctx, app, bound - Date.now())
      if (!held) {
        await cluster.sim.admin.removeFault(id)
        return outcome({ injected: false, notes: ['no refresh reached WeChat while armed'] })
      }
      const { replica, port } = held
      notes.push(`holder: replica ${replica.index} (pid ${replica.pid}, port ${port})`)
      if (fault.kind === 'holder-pause') {
        replica.pause()
        await sleep(p.durationMs!)
        replica.resume()
        notes.push(`paused ${s(p.durationMs!)}`)
      } else {
        await replica.kill()
        await sleep(p.durationMs!)
        await replica.start()
      }
      // The token WeChat issued for the held call never becomes a generation.
      return outcome({ allowance: 1, notes })
    }

    case 'wechat-minus1-burst':
    case 'wechat-5xx':
    case 'wechat-drop': {
      const shape: Omit<SimFault, 'endpoint'> =
        fault.kind === 'wechat-minus1-burst'
          ? { errcode: -1 }
          : fault.kind === 'wechat-5xx'
            ? { status: p.status! }
            : { drop: true }
      const times = p.times!
      const armed = await armAtRefresh(ctx, app, { ...shape, times }, times)
      if (!armed.met) notes.push('not every armed call was made before the bound')
      // Each failed call forces one more.
      return outcome({ injected: armed.firstAt !== undefined, allowance: times, notes })
    }

    case 'wechat-latency': {
      const armed = await armAtRefresh(ctx, app, { latency: p.durationMs!, times: 1 }, 1)
      if (armed.met) await sleep(p.durationMs!)
      return outcome({ injected: armed.met, notes })
    }

    case 'wechat-45009':
    case 'wechat-40164': {
      const errcode = fault.kind === 'wechat-45009' ? 45009 : 40164
      const errmsg =
        errcode === 40164
          ? 'invalid ip 127.0.0.1 ipv6 ::ffff:127.0.0.1, not in whitelist'
          : undefined
      const armed = await armAtRefresh(
        ctx,
        app,
        { errcode, ...(errmsg ? { errmsg } : {}), times: -1 },
        1
      )
      if (!armed.met) return outcome({ injected: false, notes: ['no refresh came while armed'] })
      const started = armed.firstAt ?? Date.now()
      await sleep(p.durationMs!)
      await cluster.sim.admin.removeFault(armed.id)
      const refused = (await tokenCalls(ctx, app)) - armed.before
      notes.push(`${refused} token call(s) answered ${errcode}`)
      // No retry loop: each replica asks at most once per back-off, or once per contended look.
      const replicas = cluster.replicas.length
      const most = replicas * (1 + Math.floor((Date.now() - started) / TIMING.contendedRetryMs))
      const violations =
        refused > most
          ? [
              `${refused} calls answered ${errcode} within ${s(Date.now() - started)}: a retry loop (at most ${most})`,
            ]
          : []
      // 45009 backs off until midnight: the runbook's operator clears WeChat's quota and forces
      // a refresh. 40164 backs off failureBackoffMs (30 s): the broker tries again by itself.
      if (errcode === 45009) await operatorRefresh(ctx, app, notes)
      return outcome({
        allowance: refused,
        notes,
        violations,
        ...(errcode === 40164 ? { watch: nextGenerationOrExpiry(ctx, app) } : {}),
      })
    }

    case 'stable-force-45009': {
      const replica = cluster.replicas[p.target!]!
      const before = await tokenCalls(ctx, app)
      const id = await cluster.sim.admin.addFault({ endpoint: app.tokenApi, errcode: 45009 })
      const answer = await cluster.adminRefresh(replica, app)
      notes.push(
        `operator refresh on replica ${replica.index}: ${answer.status}${answer.code ? ` ${answer.code}` : ''}`
      )
      const met = (await tokenCalls(ctx, app)) > before
      if (!met) {
        await cluster.sim.admin.removeFault(id)
        return outcome({ injected: false, notes })
      }
      // The force budget is spent, not the app's quota: normal refreshes must go on.
      return outcome({ allowance: 1, notes, watch: nextGenerationOrExpiry(ctx, app) })
    }

    case 'token-revoked': {
      await cluster.sim.admin.retireToken(app.appid, app.kind)
      // One report-driven refresh replaces it.
      return outcome({ allowance: 1, refusalsAllowed: true, notes })
    }

    case 'foreign-refresh': {
      // Right after the broker's own refresh: its new token would otherwise be served a full life.
      const generation = ctx.observer.latest(app.name)?.generation ?? 0
      await waitUntil(
        () => (ctx.observer.latest(app.name)?.generation ?? 0) > generation,
        app.lifeSeconds * 1000,
        100
      )
      const query = new URLSearchParams({
        grant_type: 'client_credential',
        appid: app.appid,
        secret: cluster.secrets.appSecrets[app.name],
      })
      const call = { app: app.name, t: Date.now(), token: undefined as string | undefined }
      ctx.foreign.push(call)
      const res = await fetch(`${cluster.sim.url}${app.tokenApi}?${query.toString()}`)
      const body = (await res.json()) as { access_token?: string }
      const at = Date.now()
      if (body.access_token) call.token = tokenId(body.access_token)
      notes.push(
        body.access_token ? 'WeChat issued a token to someone else' : 'foreign call failed'
      )
      // WeChat retires the broker's token one overlap later; that is when the fault bites.
      await sleep(at + app.overlapSeconds * 1000 - Date.now())
      return outcome({ allowance: 1, notes })
    }

    case 'rolling-restart': {
      const violations: string[] = []
      for (const i of p.targets!) {
        const replica = cluster.replicas[i]!
        const code = await replica.terminate()
        notes.push(`replica ${i} exited ${code}`)
        if (code !== 0)
          violations.push(`replica ${i} did not stop gracefully on SIGTERM (exit ${code})`)
        await replica.start()
        if (!(await readyAgain(ctx, replica)))
          violations.push(
            `replica ${i} not ready within ${s(TIMING.recoveryBoundMs)} of its restart`
          )
      }
      return outcome({ notes, violations })
    }
  }
}
