import type { GatewayConfig } from '../config/load.js'
import type { TokenCheck } from '../engine/types.js'

// Refetch loops (design §10). An SDK whose calls go straight to WeChat while its token fetch goes
// to the gateway fetches again after every 40001, and wechatpy does so without bound. A key that
// keeps fetching an unchanged token is the sign: an SDK with a working cache fetches a token once
// until `expires_in` minus its margin runs out, so one process fetches an unchanged token once
// (a fleet sharing a key, once per process).
//
// Per key and app, fetches of the same token are counted over `windowSeconds`:
//  - at `checkAfter`, the broker asks WeChat whether the token still works (engine.checkToken:
//    one cheap call, remembered per token); if WeChat refuses it, the caller reports it
//    (compare-and-refresh, every guard of §3.4/§3.6) and serves the new token. Asked again at most
//    once a window.
//  - at `refuseAfter`, once WeChat has said the token works, the key is answered 45011 (WeChat's
//    "minute quota" errcode, which ends wechatpy's recursion with an exception) until its count
//    in the window drops below it again.
// Never refused while the served expires_in is within the largest safety margin an SDK takes
// (silenceper's default 1500 s; the stable 300 s window lies inside it): there an SDK that
// refetches on every call is doing what its margin tells it to, not looping.

/** The largest margin an SDK subtracts from expires_in (silenceper/wechat's DefaultAccessToken). */
export const LARGEST_SDK_MARGIN_SECONDS = 1500

export type RefetchDecision = 'serve' | 'check' | 'refuse'

interface KeyState {
  token: string
  /** Fetch times within the window, oldest first (at most refuseAfter are kept). */
  times: number[]
  /** When WeChat was last asked about `token` for this key. */
  askedAt: number | null
  /** WeChat said `token` works. */
  valid: boolean
}

export class RefetchGuard {
  private readonly states = new Map<string, KeyState>()
  private readonly windowMs: number

  constructor(
    private readonly settings: GatewayConfig['refetchGuard'],
    private readonly now: () => number
  ) {
    this.windowMs = settings.windowSeconds * 1000
  }

  /** Notes that `client` fetched `token` of `appid`, served with `expiresIn` seconds: what to do. */
  observe(client: string, appid: string, token: string, expiresIn: number): RefetchDecision {
    const now = this.now()
    const state = this.state(client, appid, token)
    const times = state.times
    while (times.length > 0 && (times[0] as number) <= now - this.windowMs) times.shift()
    times.push(now)
    if (times.length > this.settings.refuseAfter) times.shift()
    const count = times.length
    if (
      count >= this.settings.checkAfter &&
      (state.askedAt === null || now - state.askedAt >= this.windowMs)
    ) {
      state.askedAt = now
      return 'check'
    }
    if (
      count >= this.settings.refuseAfter &&
      state.valid &&
      expiresIn > LARGEST_SDK_MARGIN_SECONDS
    ) {
      return 'refuse'
    }
    return 'serve'
  }

  /** WeChat's verdict on the token `observe` asked about. */
  checked(client: string, appid: string, token: string, verdict: TokenCheck): void {
    const state = this.states.get(`${client}\0${appid}`)
    if (state?.token === token) state.valid = verdict === 'valid'
  }

  /** The token `client` was last served for `appid` (what its force_refresh reports). */
  lastServed(client: string, appid: string): string | undefined {
    return this.states.get(`${client}\0${appid}`)?.token
  }

  /** One state per configured client and app: the map stays as small as the config. */
  private state(client: string, appid: string, token: string): KeyState {
    const key = `${client}\0${appid}`
    let state = this.states.get(key)
    if (state?.token !== token) {
      state = { token, times: [], askedAt: null, valid: false }
      this.states.set(key, state)
    }
    return state
  }
}
