import { freePort, startRedisNodes, type RedisServers } from '@wxbroker/testkit'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { Replica } from './replica.js'
import {
  brokerConfig,
  brokerEnv,
  newSecrets,
  simApps,
  type ChaosApp,
  type Secrets,
} from './settings.js'

/** What a replica's GET /v1/apps says about one app (the fields the soak reads). */
export interface AppView {
  appid: string
  state: string
  generation: number | null
  expires_in: number | null
  quota: { used: number; limit: number }
  last_error: { errcode: number; errmsg: string; at: string } | null
}

/**
 * The system under test, all real processes on 127.0.0.1: three Redis nodes (a redlock quorum),
 * the WeChat simulator (in this process) and three `wxbroker serve` replicas.
 */
export class Cluster {
  /** Whether the soak wants each Redis node up now (an exit it did not ask for is a failure). */
  readonly redisWanted: boolean[]

  private constructor(
    readonly redis: RedisServers,
    readonly sim: Simulator,
    readonly replicas: Replica[],
    readonly secrets: Secrets
  ) {
    this.redisWanted = redis.servers.map(() => true)
  }

  static async start(replicaCount = 3): Promise<Cluster> {
    const secrets = newSecrets()
    const redis = await startRedisNodes(3)
    let sim: Simulator | undefined
    try {
      sim = await startSimulator({ apps: simApps(secrets) })
      const wechatUrl = sim.url
      // A free port may be taken by another process before the replica binds it (the suite runs
      // test files side by side): a first start that fails is tried again on another port.
      const startReplica = async (index: number): Promise<Replica> => {
        for (let attempt = 1; ; attempt++) {
          const port = await freePort()
          const yaml = brokerConfig({ port, redisUrls: redis.urls, wechatUrl, secrets })
          const replica = new Replica(index, port, yaml, brokerEnv(secrets))
          try {
            await replica.start()
            return replica
          } catch (error) {
            replica.removeConfig()
            if (attempt === 3) throw error
          }
        }
      }
      const replicas = await Promise.all(
        Array.from({ length: replicaCount }, (_, i) => startReplica(i))
      )
      return new Cluster(redis, sim, replicas, secrets)
    } catch (error) {
      await sim?.close()
      await redis.stopAll()
      throw error
    }
  }

  /** Stops everything, replicas first (gracefully, so their exits are expected). */
  async stop(): Promise<void> {
    await Promise.allSettled(this.replicas.map((r) => r.terminate(5_000)))
    for (const r of this.replicas) r.removeConfig()
    await this.sim.close()
    await this.redis.stopAll()
  }

  /** The driver's own requests to a replica: admin and token:read scopes. */
  async driverFetch(replica: Replica, path: string, init: RequestInit = {}): Promise<Response> {
    return fetch(`${replica.url}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${this.secrets.driverKey}`, ...init.headers },
      signal: AbortSignal.timeout(2_000),
    })
  }

  /** GET /v1/apps from a replica, or undefined when it does not answer. */
  async appViews(replica: Replica): Promise<AppView[] | undefined> {
    try {
      const res = await this.driverFetch(replica, '/v1/apps')
      if (res.status !== 200) return undefined
      return ((await res.json()) as { apps: AppView[] }).apps
    } catch {
      return undefined
    }
  }

  /** GET /readyz: 200 → true, 503 → false, no answer → undefined. */
  async ready(replica: Replica): Promise<{ ready: boolean; storeUp: boolean } | undefined> {
    try {
      const res = await fetch(`${replica.url}/readyz`, { signal: AbortSignal.timeout(2_000) })
      const body = (await res.json()) as { store_up?: boolean }
      return { ready: res.status === 200, storeUp: body.store_up === true }
    } catch {
      return undefined
    }
  }

  /** The token a replica serves for an app now, or undefined. */
  async servedToken(replica: Replica, app: ChaosApp): Promise<string | undefined> {
    try {
      const res = await this.driverFetch(replica, `/v1/apps/${app.appid}/token`)
      if (res.status !== 200) return undefined
      return ((await res.json()) as { access_token: string }).access_token
    } catch {
      return undefined
    }
  }

  /** POST /v1/apps/{appid}/token/refresh (admin): the status and the error code, if any. */
  async adminRefresh(replica: Replica, app: ChaosApp): Promise<{ status: number; code?: string }> {
    try {
      const res = await this.driverFetch(replica, `/v1/apps/${app.appid}/token/refresh`, {
        method: 'POST',
      })
      const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } }
      return { status: res.status, ...(body.error?.code ? { code: body.error.code } : {}) }
    } catch {
      return { status: 0, code: 'no_answer' }
    }
  }
}
