import { storeKeys } from './store/keys.js'
import type { Store } from './store/types.js'
import type { AppState, AppStatus } from './types.js'

/**
 * The latest refresh outcome of a slot, whichever replica had it. Each replica publishes its own
 * outcomes and takes a newer one from the store on sync, so every replica reports the same state
 * and last error (`/v1/apps` and `wxbroker_app_failing` do not depend on which replica answers),
 * and a recovery seen by one clears the state on all.
 */
export interface SlotHealth {
  /** When the outcome happened; the newest wins. */
  at: number
  state: AppState
  lastRefresh: AppStatus['lastRefresh']
  lastError: AppStatus['lastError']
  nextAttemptAt: number | null
  lastForeignRefresh: AppStatus['lastForeignRefresh']
}

const HEALTH_TTL_MS = 2 * 86_400_000

export async function publishHealth(store: Store, slot: string, health: SlotHealth): Promise<void> {
  await store.setValue(storeKeys.health(slot), JSON.stringify(health), HEALTH_TTL_MS)
}

export async function readHealth(store: Store, slot: string): Promise<SlotHealth | null> {
  const raw = await store.getValue(storeKeys.health(slot))
  if (raw === null) return null
  try {
    const h = JSON.parse(raw) as Partial<SlotHealth>
    return typeof h.at === 'number' && typeof h.state === 'string'
      ? {
          at: h.at,
          state: h.state,
          lastRefresh: h.lastRefresh ?? null,
          lastError: h.lastError ?? null,
          nextAttemptAt: h.nextAttemptAt ?? null,
          lastForeignRefresh: h.lastForeignRefresh ?? null,
        }
      : null
  } catch {
    return null
  }
}
