import { Counter, Histogram, Registry } from 'prom-client'
import { describe, expect, it } from 'vitest'
import { HotCounter, HotHistogram } from './hot-metrics.js'

// The hot metrics must expose exactly what prom-client's own types would for the same events.

const BUCKETS = [0.001, 0.01, 0.1]
const VALUES = [0, 0.0005, 0.001, 0.0011, 0.01, 0.05, 0.1, 0.2, 3]

describe('HotHistogram', () => {
  it('exposes what prom-client’s Histogram does for the same observations', async () => {
    const ours = new Registry()
    const theirs = new Registry()
    const config = {
      name: 'h_seconds',
      help: 'latency',
      labelNames: ['route'] as const,
      buckets: BUCKETS,
    }
    const hot = new HotHistogram({ ...config, registers: [ours] })
    const reference = new Histogram({ ...config, registers: [theirs] })
    for (const route of ['/a', '/b/{id}']) {
      const series = hot.series(route, () => ({ route }))
      for (const v of VALUES) {
        series.observe(v)
        reference.observe({ route }, v)
      }
    }
    expect(await ours.metrics()).toBe(await theirs.metrics())
    // As JSON too, but for prom-client's empty exemplar slots (null or undefined).
    const json = async (r: Registry) =>
      (await r.getMetricsAsJSON()).map((m) => ({
        ...m,
        values: m.values.map((v) => ({ ...v, exemplar: undefined })),
      }))
    expect(await json(ours)).toEqual(await json(theirs))
  })

  it('returns one series per key, and reset() empties it', async () => {
    const registry = new Registry()
    const hot = new HotHistogram({
      name: 'h2',
      help: 'h',
      labelNames: ['route'],
      buckets: BUCKETS,
      registers: [registry],
    })
    expect(hot.series('/a', () => ({ route: '/a' }))).toBe(hot.series('/a', () => ({ route: 'x' })))
    hot.series('/a', () => ({ route: '/a' })).observe(1)
    expect(await registry.metrics()).toContain('h2_count{route="/a"} 1')
    registry.resetMetrics()
    expect(await registry.metrics()).not.toContain('h2_count')
  })
})

describe('HotCounter', () => {
  it('exposes what prom-client’s Counter does, scrape after scrape', async () => {
    const ours = new Registry()
    const theirs = new Registry()
    const config = { name: 'c_total', help: 'count', labelNames: ['a', 'b'] as const }
    const hot = new HotCounter({ ...config, registers: [ours] })
    const reference = new Counter({ ...config, registers: [theirs] })
    for (let round = 0; round < 3; round++) {
      for (const [a, b, n] of [
        ['x', '1', 3],
        ['y', '2', round],
      ] as const) {
        const series = hot.series(`${a} ${b}`, () => ({ a, b }))
        for (let i = 0; i < n; i++) {
          series.inc()
          reference.inc({ a, b })
        }
      }
      expect(await ours.metrics()).toBe(await theirs.metrics())
    }
  })
})

describe('after registry.resetMetrics()', () => {
  it('series held from before count on, as prom-client’s own metrics do after the same reset', async () => {
    const ours = new Registry()
    const theirs = new Registry()
    const h = {
      name: 'r_seconds',
      help: 'latency',
      labelNames: ['route'] as const,
      buckets: BUCKETS,
    }
    const c = { name: 'r_total', help: 'count', labelNames: ['a'] as const }
    const hot = new HotHistogram({ ...h, registers: [ours] })
    const hotCounter = new HotCounter({ ...c, registers: [ours] })
    const reference = new Histogram({ ...h, registers: [theirs] })
    const referenceCounter = new Counter({ ...c, registers: [theirs] })
    // Held the way the request recorder holds them: resolved once, used for every request.
    const series = hot.series('/a', () => ({ route: '/a' }))
    const counted = hotCounter.series('x', () => ({ a: 'x' }))
    const record = (values: readonly number[]) => {
      for (const v of values) {
        series.observe(v)
        reference.observe({ route: '/a' }, v)
        counted.inc()
        referenceCounter.inc({ a: 'x' })
      }
    }
    record(VALUES)
    expect(await ours.metrics()).toBe(await theirs.metrics())
    ours.resetMetrics()
    theirs.resetMetrics()
    expect(await ours.metrics()).toBe(await theirs.metrics())
    expect(await ours.metrics()).not.toContain('/a')
    record([0.002, 0.3])
    expect(await ours.metrics()).toContain('r_seconds_count{route="/a"} 2')
    expect(await ours.metrics()).toBe(await theirs.metrics())
  })
})
