// A small parser for the Prometheus text exposition format, so tests assert on parsed samples
// rather than on substrings.

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

export interface Exposition {
  samples: Sample[]
  /** Metric families declared with # HELP / # TYPE. */
  types: Map<string, string>
  /** The one sample matching `name` and every given label, or undefined. Throws if ambiguous. */
  get(name: string, labels?: Record<string, string>): number | undefined
  /** The sum of the samples matching `name` and every given label (0 when none matches). */
  sum(name: string, labels?: Record<string, string>): number
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+-?\d+)?$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*,?/g

export function parsePrometheus(text: string): Exposition {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '') continue
    if (line.startsWith('#')) {
      const m = /^# TYPE (\S+) (\S+)$/.exec(line)
      if (m?.[1] && m[2]) types.set(m[1], m[2])
      continue
    }
    const m = LINE.exec(line)
    if (!m?.[1] || m[3] === undefined) throw new Error(`unparseable exposition line: ${line}`)
    const labels: Record<string, string> = {}
    for (const l of (m[2] ?? '').matchAll(LABEL)) {
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_x, c: string) =>
        c === 'n' ? '\n' : c
      )
    }
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3])
    samples.push({ name: m[1], labels, value })
  }
  const matching = (name: string, labels: Record<string, string>): Sample[] =>
    samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    )
  return {
    samples,
    types,
    sum: (name, labels = {}) => matching(name, labels).reduce((total, s) => total + s.value, 0),
    get(name, labels = {}) {
      const found = matching(name, labels)
      if (found.length > 1)
        throw new Error(`${found.length} samples match ${name} ${JSON.stringify(labels)}`)
      return found[0]?.value
    },
  }
}
