// One worker process of bench/fleet.ts: node-easywechat's MiniApp, unchanged but for its
// configuration, with the shared Redis cache its README describes, sending a subscribe message
// every 200 ms. Its settings come in FLEET_WORKER (JSON); it says `ready` over IPC, starts at the
// instant the parent sends, and sends back what reached it when the run ends.
import { createRequire } from 'node:module'
import { Redis } from 'ioredis'

export interface WorkerSettings {
  appid: string
  /** The real AppSecret (straight to WeChat) or a client key with the gateway scope. */
  secret: string
  /** http.baseURL: the simulator or the gateway. */
  baseURL: string
  redisUrl: string
  openid: string
  templateId: string
  periodMs: number
}

/** What reached this worker's caller: every answer other than errcode 0 is an error. */
export interface WorkerReport {
  type: 'report'
  calls: number
  ok: number
  /** errcode (or `exception`) → how many, and when the first and last came (s into the run). */
  errors: Record<string, ErrorSpan>
}

export interface ErrorSpan {
  n: number
  first: number
  last: number
}

export type ParentMessage = { type: 'start'; at: number; seconds: number }

interface CacheShape {
  get(id: string): Promise<unknown>
  has(id: string): Promise<boolean>
  set(id: string, data?: unknown, lifeTime?: number): Promise<boolean>
  delete(id: string): Promise<boolean>
}
interface EasyApp {
  setCache(cache: CacheShape): void
  getClient(): {
    postJson(url: string, data: unknown): Promise<{ toObject(): Record<string, unknown> }>
  }
}
const require = createRequire(import.meta.url)
const { MiniApp, CacheInterface } = require('node-easywechat') as {
  MiniApp: new (config: Record<string, unknown>) => EasyApp
  CacheInterface: new () => CacheShape
}

/**
 * The README's `RedisCacher` ("缓存模块"), over ioredis, as written there but for two slips that
 * would not run: the constructor must call super(), and the method that installs it is
 * `setCache` (the README says `setCacher`, which node-easywechat 3.6 does not have).
 */
class RedisCacher extends CacheInterface {
  constructor(private readonly redis: Redis) {
    super()
  }

  override get(id: string): Promise<unknown> {
    return this.redis.get(id)
  }

  override async has(id: string): Promise<boolean> {
    return (await this.redis.exists(id)) > 0
  }

  override async set(id: string, data: unknown = null, lifeTime = 0): Promise<boolean> {
    if (lifeTime > 0) await this.redis.set(id, String(data), 'EX', lifeTime)
    else await this.redis.set(id, String(data))
    return true
  }

  override async delete(id: string): Promise<boolean> {
    await this.redis.del(id)
    return true
  }
}

const settings = JSON.parse(process.env.FLEET_WORKER ?? '') as WorkerSettings
const redis = new Redis(settings.redisUrl)
const app = new MiniApp({
  app_id: settings.appid,
  secret: settings.secret,
  http: { baseURL: `${settings.baseURL}/` },
})
app.setCache(new RedisCacher(redis))
const client = app.getClient()

async function run(at: number, seconds: number): Promise<WorkerReport> {
  const report: WorkerReport = {
    type: 'report',
    calls: 0,
    ok: 0,
    errors: {},
  }
  const end = at + seconds * 1000
  for (let tick = at; tick < end; tick += settings.periodMs) {
    const wait = tick - Date.now()
    if (wait > 0) await new Promise((r) => setTimeout(r, wait))
    else if (wait <= -settings.periodMs) continue // a tick missed while a call took long
    report.calls++
    let outcome: string
    try {
      const { errcode } = (
        await client.postJson('/cgi-bin/message/subscribe/send', {
          touser: settings.openid,
          template_id: settings.templateId,
          data: { thing1: { value: 'fleet' } },
        })
      ).toObject()
      outcome = errcode === undefined ? '0' : JSON.stringify(errcode)
    } catch {
      outcome = 'exception'
    }
    if (outcome === '0') {
      report.ok++
      continue
    }
    const t = (Date.now() - at) / 1000
    const span = (report.errors[outcome] ??= { n: 0, first: t, last: t })
    span.n++
    span.last = t
  }
  return report
}

process.on('message', (message: ParentMessage) => {
  if (message.type !== 'start') return
  void run(message.at, message.seconds).then(async (report) => {
    process.send?.(report)
    await redis.quit()
    process.disconnect?.()
  })
})
await redis.ping()
process.send?.({ type: 'ready' })
