import type { EngineEvents, TokenEngine } from '../engine/types.js'
import type { BrokerLogger } from './logger.js'

// The engine logs its own refreshes, failures and quota exhaustion. This adds the events it only
// emits: quota warnings, store reachability changes and token reports (none carries a secret).
export function followEngineEvents(engine: TokenEngine, logger: BrokerLogger): () => void {
  const log = logger.child({ component: 'engine' })
  const onQuota = (e: EngineEvents['quota']): void => {
    if (e.level !== 'warn') return
    log.warn(
      { appid: e.appid, api: e.api, used: e.used, limit: e.limit },
      'daily token quota near its limit'
    )
  }
  const onStore = (e: EngineEvents['store']): void => {
    if (e.up) log.info({ store_up: true }, 'store reachable')
    else log.warn({ store_up: false }, 'store unreachable: serving last-known-good tokens')
  }
  const onInvalidation = (e: EngineEvents['invalidation']): void => {
    log.info(
      { appid: e.appid, result: e.result, errcode: e.errcode ?? null },
      'token reported as failed'
    )
  }
  engine.on('quota', onQuota)
  engine.on('store', onStore)
  engine.on('invalidation', onInvalidation)
  return () => {
    engine.off('quota', onQuota)
    engine.off('store', onStore)
    engine.off('invalidation', onInvalidation)
  }
}
