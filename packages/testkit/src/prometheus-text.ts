// The Prometheus text exposition format (version 0.0.4), read properly: `# TYPE` lines declare
// every family, including ones with no samples yet (a labelled counter nobody has incremented),
// and samples are attributed to their family by the `_bucket`/`_sum`/`_count` rules of its type.

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped'

const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Exposition {
  /** Every family by name with its type; untyped families are those with samples and no TYPE. */
  families: Map<string, MetricType>
  samples: Sample[]
  /** The one sample matching `name` and every given label, or undefined. Throws if ambiguous. */
  get(name: string, labels?: Record<string, string>): number | undefined
  /** The sum of the samples matching `name` and every given label (0 when none matches). */
  sum(name: string, labels?: Record<string, string>): number
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*'
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})?\\s+(\\S+)(?:\\s+-?\\d+)?$`)
const LABEL = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,|$)/y

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {}
  LABEL.lastIndex = 0
  while (LABEL.lastIndex < text.length) {
    const m = LABEL.exec(text)
    if (!m?.[1] || m[2] === undefined) throw new Error(`bad label set in exposition line: ${line}`)
    labels[m[1]] = m[2].replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c))
  }
  return labels
}

function parseValue(text: string, line: string): number {
  // Prometheus reads NaN and ±Inf case-insensitively (prom-client writes "Nan").
  const special = text.toLowerCase()
  if (special === 'nan') return NaN
  if (special === '+inf' || special === 'inf') return Infinity
  if (special === '-inf') return -Infinity
  const value = Number(text)
  if (Number.isNaN(value)) throw new Error(`bad value in exposition line: ${line}`)
  return value
}

/** The declared family a series belongs to, or undefined: `_bucket`/`_sum`/`_count` only on histograms and summaries. */
export function familyOf(
  series: string,
  known: ReadonlyMap<string, MetricType>
): string | undefined {
  if (known.has(series)) return series
  const m = /^(.+)_(bucket|sum|count)$/.exec(series)
  if (!m?.[1]) return undefined
  const type = known.get(m[1])
  if (type === 'histogram' || (type === 'summary' && m[2] !== 'bucket')) return m[1]
  return undefined
}

/** Parses /metrics text, so tests assert on samples (name, labels, value), never on substrings. */
export function parsePrometheus(text: string): Exposition {
  const families = new Map<string, MetricType>()
  const samples: Sample[] = []
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    if (line.startsWith('#')) {
      const type = /^#\s*TYPE\s+(\S+)\s+(\S+)\s*$/.exec(line)
      if (type?.[1] && type[2]) {
        if (!TYPES.has(type[2])) throw new Error(`unknown metric type in exposition line: ${line}`)
        families.set(type[1], type[2] as MetricType)
      }
      continue // HELP and comments
    }
    const m = SAMPLE.exec(line)
    if (!m?.[1] || m[3] === undefined) throw new Error(`unparseable exposition line: ${line}`)
    const family = familyOf(m[1], families) ?? m[1]
    if (!families.has(family)) families.set(family, 'untyped')
    samples.push({
      name: m[1],
      labels: parseLabels(m[2] ?? '', line),
      value: parseValue(m[3], line),
    })
  }
  const matching = (name: string, labels: Record<string, string>): Sample[] =>
    samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    )
  return {
    families,
    samples,
    sum: (name, labels = {}) => matching(name, labels).reduce((total, s) => total + s.value, 0),
    get(name, labels = {}) {
      const found = matching(name, labels)
      if (found.length > 1) {
        throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`)
      }
      return found[0]?.value
    },
  }
}
