import { storeKeys } from './store/keys.js'
import type { RefreshIntent, Store } from './store/types.js'

export type { RefreshIntent }

/**
 * A note left in the store right before a refresh asks WeChat for a token that retires the current
 * one (a classic token, or a stable force_refresh). If the refresher dies or times out after WeChat
 * issued the token but before the new record was written, WeChat holds a token no replica knows and
 * will retire the current one `overlap` after `at`. Whoever finds an intent for the generation it
 * still serves knows that, caps what it serves and refreshes at once (reason `recovery`).
 *
 * The intent is also announced, so every replica caps the `expires_in` it serves before WeChat can
 * have issued the new token (the announcement leaves before the request to WeChat does).
 */
/** Kept long past any token's life, then dropped by the store. */
const INTENT_TTL_MS = 86_400_000

export async function recordIntent(
  store: Store,
  slot: string,
  intent: RefreshIntent
): Promise<void> {
  await store.setValue(storeKeys.intent(slot), JSON.stringify(intent), INTENT_TTL_MS)
  await store.publishIntent(slot, intent)
}

/**
 * The latest instant WeChat may still accept the token an intent concerns: `overlap` after the
 * intent, or earlier when the refresher knew of an earlier retirement.
 */
export function intentDeadline(intent: RefreshIntent, overlapMs: number): number {
  return Math.min(intent.at + overlapMs, intent.retiresBy ?? Infinity)
}

/** Withdraws an intent after WeChat answered with an error: no token was issued. */
export async function withdrawIntent(
  store: Store,
  slot: string,
  intent: RefreshIntent
): Promise<void> {
  await store.delete(storeKeys.intent(slot))
  await store.publishIntent(slot, { ...intent, withdrawn: true })
}

/** The intent that still concerns `generation` (the record being served), if any. */
export async function openIntent(
  store: Store,
  slot: string,
  generation: number
): Promise<RefreshIntent | null> {
  const raw = await store.getValue(storeKeys.intent(slot))
  if (raw === null) return null
  try {
    const intent = JSON.parse(raw) as Partial<RefreshIntent>
    if (typeof intent.at !== 'number' || typeof intent.generation !== 'number') return null
    if (intent.generation !== generation) return null
    return {
      at: intent.at,
      generation: intent.generation,
      by: String(intent.by ?? ''),
      ...(typeof intent.retiresBy === 'number' ? { retiresBy: intent.retiresBy } : {}),
    }
  } catch {
    return null
  }
}
