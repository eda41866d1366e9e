import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parsePrometheus } from '@wxbroker/testkit'
import {
  APP1,
  APP2,
  KEYS,
  expectError,
  jsonInit,
  startHarness,
  type Harness,
} from '../support/harness.js'

// What the guards of issue #10 look like on the wire: which limit a 429 was, a failed forced
// refresh as a 502 with WeChat's error, a bounded report as `limited`.

let h: Harness
beforeAll(async () => {
  h = await startHarness({
    apps: { [APP2]: { reportRefreshDailyLimit: 0, invalidateCooldownSeconds: 0 } },
  })
})
afterAll(async () => {
  await h.close()
})

interface AppsBody {
  apps: {
    appid: string
    state: string
    last_error: { errcode: number } | null
    quota: {
      exhausted: string | null
      scheduled_reserve: number
      reports: { used: number; limit: number; client_limit: number }
      force_refresh: { used: number; limit: number } | null
    }
  }[]
}

const apps = async (): Promise<AppsBody['apps']> =>
  ((await (await h.fetch('/v1/apps', { key: KEYS.admin })).json()) as AppsBody).apps

describe('guards on the wire', () => {
  it('a forced refresh WeChat fails transiently: 502 with errcode -1, the token stays in service', async () => {
    const before = (await (await h.fetch(`/v1/apps/${APP2}/token`, { key: KEYS.all })).json()) as {
      access_token: string
    }
    await h.sim.admin.addFault({ endpoint: '/cgi-bin/token', errcode: -1, times: 2 })
    const res = await h.fetch(`/v1/apps/${APP2}/token/refresh`, { method: 'POST', key: KEYS.admin })
    const body = await expectError(res, 502, 'wechat_error')
    expect(body.error).toMatchObject({ errcode: -1 })
    expect(body.error.message).toMatch(/stays in service/)
    const after = await h.fetch(`/v1/apps/${APP2}/token`, { key: KEYS.all })
    expect(after.status).toBe(200)
    expect(((await after.json()) as { access_token: string }).access_token).toBe(
      before.access_token
    )
    expect((await apps()).find((a) => a.appid === APP2)).toMatchObject({
      state: 'ok',
      last_error: { errcode: -1 },
    })
  })

  it("WeChat's force_refresh limit: 429 naming it, with WeChat's errcode; the app stays ok", async () => {
    await (await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.all })).json()
    await h.sim.admin.addFault({ endpoint: '/cgi-bin/stable_token', errcode: 45009 })
    const res = await h.fetch(`/v1/apps/${APP1}/token/refresh`, { method: 'POST', key: KEYS.admin })
    const body = await expectError(res, 429, 'quota_exhausted')
    expect(body.error).toMatchObject({ limit: 'force_refresh_daily', errcode: 45009 })
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0)
    const app1 = (await apps()).find((a) => a.appid === APP1)!
    expect(app1.state).toBe('ok')
    expect(app1.quota).toMatchObject({
      exhausted: null,
      scheduled_reserve: 200,
      reports: { used: 0, limit: 100, client_limit: 20 },
      force_refresh: { used: 20, limit: 20 },
    })
    expect((await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.all })).status).toBe(200)
  })

  it('a report beyond the daily bound: 200 limited with the current token, counted in /metrics', async () => {
    const { access_token } = (await (
      await h.fetch(`/v1/apps/${APP2}/token`, { key: KEYS.all })
    ).json()) as { access_token: string }
    const res = await h.fetch(
      `/v1/apps/${APP2}/token/invalidate`,
      jsonInit({ access_token, errcode: 40001 }, KEYS.all)
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ refreshed: false, reason: 'limited', access_token })
    const m = parsePrometheus(await (await h.fetch('/metrics')).text())
    expect(m.get('wxbroker_invalidations_total', { appid: APP2, result: 'limited' })).toBe(1)
    expect(m.get('wxbroker_report_refreshes_limit', { appid: APP2 })).toBe(0)
  })
})
