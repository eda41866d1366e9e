import { Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client'
import { parsePrometheus } from '@wxbroker/testkit'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createEngine } from '../../src/engine/index.js'
import type { TokenEngine } from '../../src/engine/types.js'
import { createMetrics } from '../../src/observability/metrics.js'
import { SECRET, app, newAppid, options } from '../engine/fixtures.js'

// The scrape-time gauges come from one read of the engine per scrape (status() and readiness()
// once), whichever gauge the registry collects first, and carry what the engine's status says.

const CLASSIC = newAppid()
const STABLE = newAppid()
let sim: Simulator
let engine: TokenEngine

beforeAll(async () => {
  sim = await startSimulator({
    apps: [
      { appid: CLASSIC, secret: SECRET },
      { appid: STABLE, secret: SECRET },
    ],
  })
  engine = createEngine(
    options(
      sim,
      [
        app(CLASSIC, { quotaWarnRatio: 0.6, invalidateCooldownSeconds: 0 }),
        app(STABLE, { tokenKind: 'stable' }),
      ],
      { kind: 'memory' }
    )
  )
  await engine.start()
  await Promise.all([engine.getToken(CLASSIC), engine.getToken(STABLE)])
})
afterAll(async () => {
  await engine?.stop()
  await sim?.close()
})

/** Metrics over the engine, counting the reads of status() and readiness() they make. */
function scraped() {
  const reads = { status: 0, readiness: 0 }
  const counting = {
    status: () => (reads.status++, engine.status()),
    readiness: () => (reads.readiness++, engine.readiness()),
    on: (...args: Parameters<TokenEngine['on']>) => (engine.on(...args), counting),
    off: (...args: Parameters<TokenEngine['off']>) => (engine.off(...args), counting),
  }
  const registry = new Registry()
  const metrics = createMetrics({
    registry,
    engine: counting as unknown as TokenEngine,
    defaultMetrics: false,
  })
  return { registry, reads, detach: () => metrics.detach() }
}

type Family = MetricObjectWithValues<MetricValue<string>>
const valueOf = (families: Family[], name: string, labels: Record<string, string>) =>
  families
    .find((f) => f.name === name)
    ?.values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value

describe('scrape-time gauges', () => {
  it('read status() and readiness() once per scrape', async () => {
    const { registry, reads, detach } = scraped()
    try {
      await registry.metrics()
      expect(reads).toEqual({ status: 1, readiness: 1 })
      await registry.getMetricsAsJSON()
      expect(reads).toEqual({ status: 2, readiness: 2 })
      await Promise.all([registry.metrics(), registry.metrics()])
      expect(reads).toEqual({ status: 3, readiness: 3 })
    } finally {
      detach()
    }
  })

  it('are filled whichever the registry collects first, or alone', async () => {
    const { registry, reads, detach } = scraped()
    try {
      // One pass in reverse registration order, as a registry with another order would collect.
      const metrics = registry.getMetricsAsArray().reverse() as unknown as {
        get(): Promise<Family>
      }[]
      const families = await Promise.all(metrics.map((m) => m.get()))
      expect(reads).toEqual({ status: 1, readiness: 1 })
      expect(valueOf(families, 'wxbroker_token_generation', { appid: CLASSIC })).toBe(1)
      expect(valueOf(families, 'wxbroker_quota_used', { appid: STABLE })).toBe(1)
      expect(valueOf(families, 'wxbroker_apps_configured', {})).toBe(2)
      expect(valueOf(families, 'wxbroker_store_up', {})).toBe(1)

      // One gauge read on its own is current too, and a later scrape reads the engine again.
      await engine.refresh(CLASSIC)
      const alone = parsePrometheus(await registry.getSingleMetricAsString('wxbroker_quota_used'))
      expect(alone.get('wxbroker_quota_used', { appid: CLASSIC })).toBe(2)
      expect(reads).toEqual({ status: 2, readiness: 2 })
    } finally {
      detach()
    }
  })

  it('label quota series with the API and warn ratio of the engine’s status', async () => {
    const { registry, detach } = scraped()
    try {
      const m = parsePrometheus(await registry.metrics())
      for (const s of engine.status()) {
        expect(m.get('wxbroker_quota_used', { appid: s.appid, api: s.quota.api })).toBe(
          s.quota.used
        )
        expect(m.get('wxbroker_quota_warn_ratio', { appid: s.appid })).toBe(s.quota.warnRatio)
      }
      const quota = new Map(engine.status().map((s) => [s.appid, s.quota]))
      expect(quota.get(CLASSIC)).toMatchObject({ api: '/cgi-bin/token', warnRatio: 0.6 })
      expect(quota.get(STABLE)).toMatchObject({ api: '/cgi-bin/stable_token', warnRatio: 0.8 })
    } finally {
      detach()
    }
  })
})
