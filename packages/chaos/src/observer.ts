import { Redis } from 'ioredis'
import type { SimCallLogEntry } from '@wxbroker/wechat-sim'
import type { Cluster } from './cluster.js'
import { APPS, tokenId, type AppName, type ChaosApp } from './settings.js'

/** A token record as the store held it (the newest generation any node had). */
export interface GenerationRecord {
  app: AppName
  generation: number
  /** The token's id (settings.tokenId), never the token. */
  tokenId: string
  obtainedAt: number
  wechatExpiresAt: number
  fetchedBy: string
  /** When the soak first saw it. */
  seenAt: number
}

export interface ReadinessSample {
  t: number
  replica: number
  /** undefined: no answer (stopped, paused, restarting). */
  ready: boolean | undefined
  storeUp: boolean | undefined
}

/** A generation as one replica reported it (GET /v1/apps), recorded when it changes. */
export interface ReplicaGeneration {
  t: number
  replica: number
  incarnation: number
  app: AppName
  generation: number
}

/** An app's state (ok, failing, quota_exhausted, cold) on one replica, recorded when it changes. */
export interface ReplicaState {
  t: number
  replica: number
  incarnation: number
  app: AppName
  state: string
}

/** WeChat's count of an app's token calls today, beside the broker's count in the store. */
export interface QuotaSample {
  t: number
  app: AppName
  wechat: number
  store: number
}

/** A process exit or stop nobody asked for, seen while polling. */
export interface UnexpectedStop {
  t: number
  what: string
}

const POLL_REPLICAS_MS = 500
const POLL_STORE_MS = 250
const POLL_QUOTA_MS = 1_000
const POLL_CALL_LOG_MS = 20_000

/** Shanghai calendar day, as the broker keys its quota counters. */
function shanghaiDay(at: number): string {
  return new Date(at + 8 * 3_600_000).toISOString().slice(0, 10)
}

/**
 * Watches the system while the soak runs: every replica's readiness and generations, the token
 * records and quota counters in the store, WeChat's own quota figure, and the simulator's call
 * log of the token endpoints (kept here, since the simulator keeps only its newest entries).
 */
export class Observer {
  readonly generations = new Map<AppName, GenerationRecord[]>(APPS.map((a) => [a.name, []]))
  readonly readiness: ReadinessSample[] = []
  readonly replicaGenerations: ReplicaGeneration[] = []
  readonly replicaStates: ReplicaState[] = []
  readonly quota: QuotaSample[] = []
  readonly unexpected: UnexpectedStop[] = []
  private tokenCalls: SimCallLogEntry[] = []
  private readonly lastReplicaGen = new Map<string, number>()
  private readonly lastReplicaState = new Map<string, string>()
  private readonly redis: Redis[]
  private readonly timers: NodeJS.Timeout[] = []
  private readonly inflight = new Set<Promise<unknown>>()
  private stopped = false

  constructor(private readonly cluster: Cluster) {
    this.redis = cluster.redis.urls.map(
      (url) =>
        new Redis(url, {
          lazyConnect: true,
          enableOfflineQueue: false,
          maxRetriesPerRequest: 0,
          connectTimeout: 500,
          commandTimeout: 500,
          retryStrategy: () => 200,
        })
    )
    for (const r of this.redis) r.on('error', () => undefined)
  }

  async start(): Promise<void> {
    await Promise.allSettled(this.redis.map((r) => r.connect()))
    this.every(POLL_REPLICAS_MS, () => this.pollReplicas())
    this.every(POLL_STORE_MS, () => this.pollStore())
    this.every(POLL_QUOTA_MS, () => this.pollQuota())
    this.every(POLL_CALL_LOG_MS, () => this.pollCallLog())
    await this.pollStore()
  }

  async stop(): Promise<void> {
    this.stopped = true
    for (const t of this.timers) clearInterval(t)
    await Promise.allSettled([...this.inflight])
    // A last look, so that a token written just before the end is on record with its call.
    await this.pollStore().catch(() => undefined)
    await this.pollCallLog()
    this.redis.forEach((r) => r.disconnect())
  }

  /** The simulator's log entries for the token endpoints, the whole run. */
  callLog(): SimCallLogEntry[] {
    return this.tokenCalls
  }

  /** The newest generation the store held, as last seen. */
  latest(app: AppName): GenerationRecord | undefined {
    return this.generations.get(app)!.at(-1)
  }

  private every(ms: number, poll: () => Promise<void>): void {
    let busy = false
    this.timers.push(
      setInterval(() => {
        if (busy || this.stopped) return
        busy = true
        const p = poll()
          .catch(() => undefined)
          .finally(() => {
            busy = false
            this.inflight.delete(p)
          })
        this.inflight.add(p)
      }, ms)
    )
  }

  private async pollReplicas(): Promise<void> {
    await Promise.all(
      this.cluster.replicas.map(async (replica) => {
        if (!replica.running) return
        const incarnation = replica.incarnation
        const t = Date.now()
        if (!replica.serving) {
          this.readiness.push({ t, replica: replica.index, ready: undefined, storeUp: undefined })
          return
        }
        const [ready, views] = await Promise.all([
          this.cluster.ready(replica),
          this.cluster.appViews(replica),
        ])
        this.readiness.push({
          t,
          replica: replica.index,
          ready: ready?.ready,
          storeUp: ready?.storeUp,
        })
        for (const view of views ?? []) {
          const app = APPS.find((a) => a.appid === view.appid)
          if (!app) continue
          const key = `${replica.index}:${incarnation}:${app.name}`
          if (this.lastReplicaState.get(key) !== view.state) {
            this.lastReplicaState.set(key, view.state)
            this.replicaStates.push({
              t,
              replica: replica.index,
              incarnation,
              app: app.name,
              state: view.state,
            })
          }
          if (view.generation === null || this.lastReplicaGen.get(key) === view.generation) continue
          this.lastReplicaGen.set(key, view.generation)
          this.replicaGenerations.push({
            t,
            replica: replica.index,
            incarnation,
            app: app.name,
            generation: view.generation,
          })
        }
      })
    )
    this.cluster.redis.servers.forEach((server, i) => {
      if (this.cluster.redisWanted[i] && !server.running)
        this.unexpected.push({ t: Date.now(), what: `redis node ${i} is not running` })
    })
  }

  private async onNodes<T>(read: (r: Redis) => Promise<T>): Promise<T[]> {
    const results = await Promise.allSettled(
      this.redis.filter((r) => r.status === 'ready').map(read)
    )
    return results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []))
  }

  private async pollStore(): Promise<void> {
    for (const app of APPS) {
      const raws = await this.onNodes((r) => r.get(`chaos:token:${app.appid}:${app.kind}`))
      let best: GenerationRecord | undefined
      for (const raw of raws) {
        if (raw === null) continue
        const r = JSON.parse(raw) as Omit<GenerationRecord, 'app' | 'seenAt' | 'tokenId'> & {
          token: string
        }
        if (!best || r.generation > best.generation)
          best = {
            app: app.name,
            generation: r.generation,
            tokenId: tokenId(r.token),
            obtainedAt: r.obtainedAt,
            wechatExpiresAt: r.wechatExpiresAt,
            fetchedBy: r.fetchedBy,
            seenAt: Date.now(),
          }
      }
      const list = this.generations.get(app.name)!
      if (best && !list.some((g) => g.generation === best.generation)) {
        list.push(best)
        list.sort((a, b) => a.generation - b.generation)
      }
    }
  }

  /** The broker's count (highest on any node, as the broker reads it) and WeChat's own figure. */
  private async pollQuota(): Promise<void> {
    for (const app of APPS) {
      // WeChat first: the broker counts before it calls, so a count read after it is never behind.
      const wechat = await this.wechatUsed(app)
      if (wechat === undefined) continue
      const t = Date.now()
      const counts = await this.onNodes((r) =>
        r.get(`chaos:quota:${app.appid}:${app.tokenApi}:${shanghaiDay(t)}`)
      )
      if (counts.length === 0) continue
      const store = Math.max(0, ...counts.map((c) => Number(c ?? 0)))
      this.quota.push({ t, app: app.name, wechat, store })
    }
  }

  /** WeChat's figure for the app's token API (openapi/quota/get with a token that works now). */
  private async wechatUsed(app: ChaosApp): Promise<number | undefined> {
    const current = (await this.cluster.sim.admin.tokens(app.appid, app.kind)).current
    if (current === null) return undefined
    const res = await fetch(
      `${this.cluster.sim.url}/cgi-bin/openapi/quota/get?access_token=${encodeURIComponent(current)}`,
      { method: 'POST', body: JSON.stringify({ cgi_path: app.tokenApi }) }
    )
    const body = (await res.json()) as { quota?: { used: number } }
    return body.quota?.used
  }

  /** Merges the simulator's (rotating) call log into the run's list of token-endpoint calls. */
  private async pollCallLog(): Promise<void> {
    const log = await this.cluster.sim.admin.callLog().catch(() => undefined)
    if (!log) return
    const oldest = log[0]?.at ?? Infinity
    const apis = new Set<string>(APPS.map((a) => a.tokenApi))
    const fresh = log.filter((e) => apis.has(e.endpoint))
    // Entries from `oldest` on are all in this snapshot; older ones only in earlier snapshots.
    this.tokenCalls = [...this.tokenCalls.filter((e) => e.at < oldest), ...fresh]
  }
}
