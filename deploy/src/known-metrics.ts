import { parsePrometheus, type MetricType } from '@wxbroker/testkit'
import { startRunningBroker } from './running-broker.js'

// The one source of "metrics the broker exports" for the dashboard and rule checks: the families
// on /metrics of a real `wxbroker serve` that has fetched tokens and served requests (so labelled
// series exist; `# TYPE` lines give the families that have no samples yet as well).

export type { MetricType } from '@wxbroker/testkit'

/** Series Prometheus itself adds to every scrape target. */
export const SCRAPE_SERIES: ReadonlySet<string> = new Set([
  'up',
  'scrape_duration_seconds',
  'scrape_samples_scraped',
  'scrape_samples_post_metric_relabeling',
  'scrape_series_added',
])

export interface BrokerScrape {
  families: ReadonlyMap<string, MetricType>
  /** The raw exposition, for assertions on samples. */
  text: string
}

/** Starts a broker (with the simulator), scrapes /metrics once and stops it. */
export async function scrapeRunningBroker(): Promise<BrokerScrape> {
  const broker = await startRunningBroker()
  try {
    const res = await fetch(`${broker.url}/metrics`)
    const text = await res.text()
    if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${text}`)
    return { families: parsePrometheus(text).families, text }
  } finally {
    await broker.stop()
  }
}

let scrape: Promise<BrokerScrape> | undefined

/** The scrape of a running broker, taken once per test process. */
export function brokerScrape(): Promise<BrokerScrape> {
  scrape ??= scrapeRunningBroker()
  return scrape
}

/** Every metric family the broker exports, by name, with its type. */
export async function knownMetrics(): Promise<ReadonlyMap<string, MetricType>> {
  return (await brokerScrape()).families
}
