import { validateMetricName } from 'prom-client'
import type {
  LabelValues,
  Metric,
  MetricObjectWithValues,
  MetricValueWithName,
  Registry,
} from 'prom-client'

// prom-client hashes and validates the label set on every inc() and observe(), even through a
// labels() child; on the token GET that bookkeeping cost more than the rest of the handler's
// metrics and auth together. The types here keep per-request work to a few additions on a series
// resolved once. Label sets are bounded (route templates, statuses, configured clients and apps),
// so series are never freed; registry.resetMetrics() zeroes them in place, so whoever holds one
// (the request recorder) keeps counting into a live series.
//
// How prom-client sees them: each metric is registered with registry.registerMetric() and answers
// the two calls a registry makes of every metric, both declared on all of prom-client's metric
// types: get() (the exposition values, as prom-client's own Counter and Histogram shape them) and
// reset(). Nothing of prom-client is extended or patched. Feeding prom-client's own Histogram
// instead, with observe() at scrape time, would cost what this avoids: 0.4 µs per observation
// (against 0.013 µs here), about 0.4 s of blocked event loop per 15 s scrape at the benchmark's
// rate, and every raw value kept until then for an exact _sum.

type Value = MetricValueWithName<string>

/** What a hot metric needs of its series. */
interface Series {
  readonly labels: LabelValues<string>
  /** Back to zero, in place (registry.resetMetrics()). */
  clear(): void
  /** Its exposition values, none while zero (as prom-client shows a series never updated). */
  values(name: string): Value[]
}

/** One counter series: inc() is an addition. */
export class CounterSeries implements Series {
  value = 0
  constructor(readonly labels: LabelValues<string>) {}
  inc(): void {
    this.value++
  }
  clear(): void {
    this.value = 0
  }
  values(): Value[] {
    return this.value > 0 ? [{ value: this.value, labels: this.labels }] : []
  }
}

/** One histogram series: observe() is a bucket search and three additions. */
export class HistogramSeries implements Series {
  /** Per bucket (not cumulative); the last slot is above the largest bound. */
  readonly counts: Float64Array
  sum = 0
  count = 0
  constructor(
    readonly labels: LabelValues<string>,
    private readonly bounds: readonly number[]
  ) {
    this.counts = new Float64Array(bounds.length + 1)
  }
  observe(value: number): void {
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > (bounds[i] as number)) i++
    this.counts[i] = (this.counts[i] as number) + 1
    this.sum += value
    this.count++
  }
  clear(): void {
    this.counts.fill(0)
    this.sum = 0
    this.count = 0
  }
  /** prom-client's shape: cumulative buckets, +Inf, _sum, _count. */
  values(name: string): Value[] {
    if (this.count === 0) return []
    const labels = this.labels
    const values: Value[] = []
    let cumulative = 0
    this.bounds.forEach((le, i) => {
      cumulative += this.counts[i] as number
      values.push({ metricName: `${name}_bucket`, labels: { le, ...labels }, value: cumulative })
    })
    values.push(
      { metricName: `${name}_bucket`, labels: { le: '+Inf', ...labels }, value: this.count },
      { metricName: `${name}_sum`, labels, value: this.sum },
      { metricName: `${name}_count`, labels, value: this.count }
    )
    return values
  }
}

export interface HotMetricConfig<T extends string> {
  name: string
  help: string
  labelNames: readonly T[]
  registers: Registry[]
}

/** A metric family of hot series, registered in `registers` like any prom-client metric. */
abstract class HotMetric<T extends string, S extends Series> {
  readonly aggregator = 'sum'
  // Not readonly: a registry of the OpenMetrics type renames counters (adds _total).
  name: string
  readonly help: string
  private readonly labelNames: ReadonlySet<string>
  private readonly all = new Map<string, S>()

  constructor(
    config: HotMetricConfig<T>,
    readonly type: 'counter' | 'histogram',
    private readonly make: (labels: LabelValues<T>) => S
  ) {
    if (!validateMetricName(config.name)) throw new Error(`invalid metric name: ${config.name}`)
    this.name = config.name
    this.help = config.help
    this.labelNames = new Set(config.labelNames)
    for (const registry of config.registers) registry.registerMetric(this as unknown as Metric)
  }

  /** The series for `labels`, made on first use; `key` identifies the label set. */
  series(key: string, labels: () => LabelValues<T>): S {
    let s = this.all.get(key)
    if (!s) {
      const made = labels()
      const unknown = Object.keys(made).find((l) => !this.labelNames.has(l))
      if (unknown !== undefined) throw new Error(`${this.name} has no label ${unknown}`)
      this.all.set(key, (s = this.make(made)))
    }
    return s
  }

  /** What registry.resetMetrics() calls: every series back to zero, in place. */
  reset(): void {
    for (const s of this.all.values()) s.clear()
  }

  /** What the registry reads at each scrape (metrics(), getMetricsAsJSON()). */
  get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    const values: Value[] = []
    for (const s of this.all.values()) values.push(...s.values(this.name))
    const { name, help, type, aggregator } = this
    // The shape prom-client's own metrics return at run time; its type declarations differ (a
    // numeric enum for `type`, a required `collect`), hence the cast.
    const metric = { name, help, type, values, aggregator }
    return Promise.resolve(metric as unknown as MetricObjectWithValues<MetricValueWithName<T>>)
  }
}

/** A counter whose series are incremented without prom-client on the request path. */
export class HotCounter<T extends string> extends HotMetric<T, CounterSeries> {
  constructor(config: HotMetricConfig<T>) {
    super(config, 'counter', (labels) => new CounterSeries(labels))
  }
}

/** A histogram whose series observe without prom-client on the request path. */
export class HotHistogram<T extends string> extends HotMetric<T, HistogramSeries> {
  constructor(config: HotMetricConfig<T> & { buckets: readonly number[] }) {
    const bounds = [...config.buckets]
    super(config, 'histogram', (labels) => new HistogramSeries(labels, bounds))
  }
}
