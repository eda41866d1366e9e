import { Counter, Histogram } from 'prom-client'
import type {
  LabelValues,
  MetricObjectWithValues,
  MetricValueWithName,
  Registry,
} from 'prom-client'

// prom-client hashes and validates the label set on every inc() and observe(), even through a
// labels() child; on the token GET that bookkeeping cost more than the rest of the handler's
// metrics and auth together. The two types here keep per-request work to a few additions on a
// series resolved once, and hand prom-client the totals when it is scraped. Label sets are
// bounded (route templates, statuses, configured clients and apps), so series are never freed.

/** Stores a series made on first use under its key, and returns it. */
function remember<S>(all: Map<string, S>, key: string, series: S): S {
  all.set(key, series)
  return series
}

/** One counter series: inc() is an addition; the scrape moves the count into prom-client. */
export class CounterSeries {
  pending = 0
  constructor(readonly labels: LabelValues<string>) {}
  inc(): void {
    this.pending++
  }
}

/** A prom-client Counter whose series are incremented without prom-client on the request path. */
export class HotCounter<T extends string> {
  private readonly all = new Map<string, CounterSeries>()

  constructor(config: {
    name: string
    help: string
    labelNames: readonly T[]
    registers: Registry[]
  }) {
    const all = this.all
    // Registered in `registers`, where prom-client finds it; collect() runs on every scrape.
    new Counter<T>({
      ...config,
      collect() {
        for (const s of all.values()) {
          if (s.pending > 0) {
            this.inc(s.labels as LabelValues<T>, s.pending)
            s.pending = 0
          }
        }
      },
    })
  }

  /** The series for `labels`, made on first use; `key` identifies the label set. */
  series(key: string, labels: () => LabelValues<T>): CounterSeries {
    return this.all.get(key) ?? remember(this.all, key, new CounterSeries(labels()))
  }
}

/** One histogram series: observe() is a bucket search and three additions. */
export class HistogramSeries {
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
}

/**
 * A histogram exposed through prom-client (registered like any other, same exposition) whose
 * observations never go through prom-client's per-call label hashing: the registry reads it
 * through getForPromString()/get(), which this class answers from its own series.
 */
export class HotHistogram<T extends string> extends Histogram<T> {
  private readonly hot = new Map<string, HistogramSeries>()
  private readonly bounds: readonly number[]
  private readonly metricName: string
  private readonly metricHelp: string

  constructor(config: {
    name: string
    help: string
    labelNames: readonly T[]
    buckets: readonly number[]
    registers: Registry[]
  }) {
    super({ ...config, buckets: [...config.buckets] })
    this.bounds = [...config.buckets]
    this.metricName = config.name
    this.metricHelp = config.help
  }

  /** The series for `labels`, made on first use; `key` identifies the label set. */
  series(key: string, labels: () => LabelValues<T>): HistogramSeries {
    return this.hot.get(key) ?? remember(this.hot, key, new HistogramSeries(labels(), this.bounds))
  }

  override reset(): void {
    // prom-client's constructor calls this too, before this class's fields exist.
    const hot = this.hot as Map<string, HistogramSeries> | undefined
    hot?.clear()
  }

  /** prom-client's exposition shape: cumulative buckets, +Inf, _sum, _count per series. */
  getForPromString(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    type Labels = MetricValueWithName<T>['labels']
    const name = this.metricName
    const values: MetricValueWithName<T>[] = []
    for (const s of this.hot.values()) {
      const labels = s.labels as Labels
      const bucket = (le: number | string, value: number): MetricValueWithName<T> => ({
        metricName: `${name}_bucket`,
        labels: { le, ...labels },
        value,
      })
      let cumulative = 0
      this.bounds.forEach((le, i) => {
        cumulative += s.counts[i] as number
        values.push(bucket(le, cumulative))
      })
      values.push(
        bucket('+Inf', s.count),
        { metricName: `${name}_sum`, labels, value: s.sum },
        { metricName: `${name}_count`, labels, value: s.count }
      )
    }
    // What prom-client's own Histogram returns at run time; its type declarations differ (a
    // numeric enum for `type`, a required `collect`), hence the cast.
    const metric = { name, help: this.metricHelp, type: 'histogram', values, aggregator: 'sum' }
    return Promise.resolve(metric as unknown as MetricObjectWithValues<MetricValueWithName<T>>)
  }

  override get(): Promise<MetricObjectWithValues<MetricValueWithName<T>>> {
    return this.getForPromString()
  }
}
