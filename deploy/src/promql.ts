import { parser } from '@prometheus-io/lezer-promql'

// PromQL read with Prometheus's own lezer grammar (the one its web UI uses), not with regexes.

export interface PromqlReading {
  /** Metric names in vector and matrix selectors, in order of appearance, without repeats. */
  metrics: string[]
  /** Character offsets where the parser met a syntax error. */
  errors: number[]
}

export function readPromql(expr: string): PromqlReading {
  const metrics = new Set<string>()
  const errors: number[] = []
  parser.parse(expr).iterate({
    enter(node) {
      if (node.type.isError) errors.push(node.from)
      if (node.name === 'Identifier' && node.node.parent?.name === 'VectorSelector') {
        metrics.add(expr.slice(node.from, node.to))
      }
    },
  })
  return { metrics: [...metrics], errors }
}

const GRAFANA_VARIABLES: Record<string, string> = {
  __rate_interval: '5m',
  __interval: '1m',
  __range: '1h',
}

/** Replaces Grafana's $var / ${var} / [[var]] with values that keep the query valid PromQL. */
export function substituteGrafanaVariables(expr: string): string {
  return expr.replace(
    /\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g,
    (_m, a?: string, b?: string, c?: string) => {
      const name = a ?? b ?? c ?? ''
      return GRAFANA_VARIABLES[name] ?? '.*'
    }
  )
}
