import { parsePrometheus } from '@wxbroker/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APP1, APP2, GW_KEYS, startGateway, type GatewayHarness } from './support.js'

// The refetch-loop guard end to end (design §10): an SDK whose calls go straight to WeChat while
// its token fetch goes to the gateway fetches the same token again after each 40001. The broker
// checks that token with WeChat and replaces it if WeChat refuses it; a caller that keeps looping
// although WeChat says it works gets 45011; an SDK whose margin exceeds expires_in never does.

interface TokenAnswer {
  access_token?: string
  expires_in?: number
  errcode?: number
}

describe('gateway refetch-loop guard', () => {
  let h: GatewayHarness
  beforeAll(async () => {
    h = await startGateway({
      gateway: { refetchGuard: { checkAfter: 3, refuseAfter: 6, windowSeconds: 60 } },
      apps: { [APP1]: { foreignCheckSeconds: 0 }, [APP2]: { foreignCheckSeconds: 0 } },
      // APP2's classic tokens live 1200 s: always within silenceper's 1500-s margin.
      simApps: { [APP2]: { tokenExpiresIn: 1200 } },
    })
  })
  afterAll(() => h.close())

  const fetchToken = async (key: string, appid = APP1): Promise<TokenAnswer> => {
    const res = await fetch(
      `${h.gw}/cgi-bin/token?grant_type=client_credential&appid=${appid}&secret=${key}`
    )
    return (await res.json()) as TokenAnswer
  }
  const guardCount = async (action: string): Promise<number> => {
    const m = parsePrometheus(await (await fetch(`${h.url}/metrics`)).text())
    return m.samples
      .filter(
        (s) => s.name === 'wxbroker_gateway_refetch_guard_total' && s.labels.action === action
      )
      .reduce((n, s) => n + s.value, 0)
  }

  it('a key refetching a token WeChat refuses gets it replaced at the check, within the loop', async () => {
    const first = await fetchToken(GW_KEYS.sdk)
    // Revoked at WeChat, unknown to the broker: a direct call of the SDK fails with 40001, so it
    // fetches again, and again.
    await h.sim.admin.retireToken(APP1, 'stable')
    const before = await h.sim.admin.calls()
    const second = await fetchToken(GW_KEYS.sdk)
    expect(second.access_token).toBe(first.access_token)
    const third = await fetchToken(GW_KEYS.sdk)
    expect(third.access_token).not.toBe(first.access_token)
    expect((await h.sim.admin.checkToken(third.access_token as string)).valid).toBe(true)
    const after = await h.sim.admin.calls()
    expect(after['/cgi-bin/stable_token']).toBe((before['/cgi-bin/stable_token'] ?? 0) + 1)
    expect(await guardCount('refreshed')).toBe(1)
  })

  it('a key that keeps fetching a token WeChat says works gets 45011, which ends the loop', async () => {
    const answers: TokenAnswer[] = []
    for (let i = 0; i < 8; i++) answers.push(await fetchToken(GW_KEYS.multi))
    // Fetches 1-5 served (the third checked with WeChat: valid), from the sixth on refused.
    expect(answers.slice(0, 5).every((a) => typeof a.access_token === 'string')).toBe(true)
    expect(answers.slice(5).map((a) => a.errcode)).toEqual([45011, 45011, 45011])
    expect(await guardCount('refused')).toBe(3)
    // Other keys of the app are not affected, and the loop was never a reason to refresh.
    expect(typeof (await fetchToken(GW_KEYS.alias)).access_token).toBe('string')
    expect(await guardCount('refreshed')).toBe(1)
  })

  it('never 45011 while expires_in is within an SDK margin (silenceper’s default handle at 1500 s)', async () => {
    const answers: TokenAnswer[] = []
    for (let i = 0; i < 12; i++) answers.push(await fetchToken(GW_KEYS.app2, APP2))
    for (const a of answers) {
      expect(a.errcode).toBeUndefined()
      expect(a.expires_in).toBeLessThanOrEqual(1500)
    }
  })
})
