import { describe, expect, it } from 'vitest'
import { startSimulator } from '@wxbroker/wechat-sim'
import { createEngine } from './index.js'

describe('status', () => {
  it('reports the effective refresh lead per kind, for alerts that compare it with time to expiry', async () => {
    const sim = await startSimulator({
      apps: [
        { appid: 'wx00000000000000c1', secret: 's1', tokenExpiresIn: 7200 },
        { appid: 'wx00000000000000c2', secret: 's2', tokenExpiresIn: 600 },
        { appid: 'wx00000000000000c3', secret: 's3', tokenExpiresIn: 7200 },
      ],
    })
    const base = {
      dailyQuota: 2000,
      quotaWarnRatio: 0.8,
      invalidateCooldownSeconds: 30,
      refreshLeadSeconds: 600,
      scheduledReserve: 200,
      reportRefreshDailyLimit: 100,
      clientReportRefreshDailyLimit: 20,
      foreignCheckSeconds: 0,
    }
    const engine = createEngine({
      apps: [
        { ...base, appid: 'wx00000000000000c1', secret: 's1', tokenKind: 'classic' },
        { ...base, appid: 'wx00000000000000c2', secret: 's2', tokenKind: 'classic' },
        { ...base, appid: 'wx00000000000000c3', secret: 's3', tokenKind: 'stable' },
      ],
      store: { kind: 'memory' },
      wechat: { baseUrl: sim.url, fallbackBaseUrls: [], timeoutMs: 2000 },
      tuning: { reconcileQuota: false },
    })
    try {
      await engine.start()
      await Promise.all(engine.appids.map((a) => engine.getToken(a)))
      const leads = engine.status().map((s) => s.refreshLeadSeconds)
      // Classic: the configured 600 s; a 600 s token is due at half its life; stable: 0.8 × 300 s.
      expect(leads).toEqual([600, 300, 240])
      // Served until the planned refresh plus WeChat's overlap (whole seconds, a few ms have passed).
      expect(engine.status()[0]!.expiresIn).toBeGreaterThanOrEqual(7200 - 600 + 300 - 1)
      expect(engine.status()[0]!.expiresIn).toBeLessThanOrEqual(7200 - 600 + 300)
    } finally {
      await engine.stop()
      await sim.close()
    }
  })
})
