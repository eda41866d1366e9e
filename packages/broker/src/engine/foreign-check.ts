import { shanghaiDay } from './clock.js'
import { storeKeys } from './store/keys.js'
import type { Store } from './store/types.js'
import type { Clock, ForeignEvidence, TokenKind } from './types.js'
import type { WeChatApi } from './wechat-api.js'
import { WeChatError, isTokenRejection } from './wechat-errors.js'

/**
 * Notices refreshes the broker did not make: a crashed refresher's unrecorded token, a staging
 * fleet or a developer's laptop calling /cgi-bin/token with the real secret. Every classic fetch
 * retires the token the broker serves `overlap` later, so the broker must notice within that time.
 *
 * One replica per interval (a claim in the store) asks WeChat for its daily count of the token API
 * with the current token (`/cgi-bin/openapi/quota/get`):
 * - an answer of 40001/40014/42001 means WeChat already refused the token (`token_rejected`);
 * - otherwise WeChat's count is compared with the broker's own. The check holds the slot's refresh
 *   lock (it skips the round when a refresh holds it), so no broker call is in flight, and the
 *   broker counts each call before sending it: between two checks, WeChat's count minus the
 *   broker's (the surplus) grows only when someone else called, and falls when a call the broker
 *   counted did not count at WeChat (a refused connection, an error answer). A surplus above the
 *   previous check's is a refresh by someone else (`count_drift`). Comparing with the previous
 *   check, not with the day's highest surplus, keeps earlier failed calls from hiding later foreign
 *   ones; a failed call and a foreign one between the same two checks can still cancel out, and
 *   the token check then catches the token's end.
 * Stable tokens: a foreign normal-mode call retires nothing, so only `token_rejected` counts.
 */
export interface ForeignCheckDeps {
  store: Store
  clock: Clock
  wechat: WeChatApi
  slot: string
  kind: TokenKind
  api: string
  instanceId: string
  intervalMs: number
  lockTtlMs: number
  /** The broker's own count of upstream calls to `api` today, fresh from the store. */
  brokerCount: () => Promise<number>
}

interface Baseline {
  day: string
  /** The surplus (WeChat's count minus the broker's) the last check saw. */
  surplus: number
  /** When the check that set it ran: a foreign refresh found now happened after this. */
  at: number
}

export interface ForeignFinding {
  evidence: ForeignEvidence
  /** The foreign refresh happened after this instant (the previous check). */
  after: number
}

export async function checkForeignRefresh(
  deps: ForeignCheckDeps,
  token: string
): Promise<ForeignFinding | null> {
  const { store } = deps
  // One replica per interval; the claim lapses a little before the next round.
  const claimed = await store.claim(
    storeKeys.foreignCheckLease(deps.slot),
    deps.instanceId,
    deps.intervalMs * 0.9
  )
  if (!claimed) return null
  const lease = await store.acquire(deps.slot, deps.lockTtlMs)
  if (!lease) return null // a refresh is under way: its call may not have reached WeChat yet
  try {
    return await compareCounts(deps, token)
  } finally {
    await lease.release()
  }
}

async function compareCounts(
  deps: ForeignCheckDeps,
  token: string
): Promise<ForeignFinding | null> {
  const { store, clock } = deps
  const baselineKey = storeKeys.foreignBaseline(deps.slot)
  const previous = parseBaseline(await store.getValue(baselineKey))
  const now = clock.now()
  let wechatUsed: number
  try {
    wechatUsed = (await deps.wechat.apiQuota(token, deps.api)).used
  } catch (error) {
    if (error instanceof WeChatError && isTokenRejection(error.errcode)) {
      return { evidence: 'token_rejected', after: previous?.at ?? now }
    }
    throw error
  }
  const surplus = wechatUsed - (await deps.brokerCount())
  const day = shanghaiDay(now)
  const sameDay = previous !== null && previous.day === day
  const drift = deps.kind === 'classic' && sameDay && surplus > previous.surplus
  const baseline: Baseline = { day, surplus, at: now }
  await store.setValue(baselineKey, JSON.stringify(baseline), 2 * 86_400_000)
  return drift ? { evidence: 'count_drift', after: previous.at } : null
}

function parseBaseline(raw: string | null): Baseline | null {
  if (raw === null) return null
  try {
    const b = JSON.parse(raw) as Partial<Baseline>
    return typeof b.day === 'string' && typeof b.surplus === 'number' && typeof b.at === 'number'
      ? { day: b.day, surplus: b.surplus, at: b.at }
      : null
  } catch {
    return null
  }
}
