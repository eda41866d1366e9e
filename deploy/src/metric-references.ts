import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import type { MetricType } from './known-metrics.js'
import { SCRAPE_SERIES } from './known-metrics.js'
import { familyOf } from '@wxbroker/testkit'
import { readPromql, substituteGrafanaVariables } from './promql.js'

// Where the dashboard and the rules name metrics, and whether each name is one the broker exports.

export interface PromqlUse {
  /** Where the expression lives, for messages: "alerts.yml WxbrokerQuotaHigh", "panel 3 (Quota) A". */
  where: string
  expr: string
}

interface RuleFile {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[]
}

export function readRuleFile(path: string): RuleFile {
  return parse(readFileSync(path, 'utf8')) as RuleFile
}

export function ruleExpressions(rules: RuleFile): PromqlUse[] {
  return rules.groups.flatMap((g) =>
    g.rules.map((r) => ({ where: `rule ${r.alert ?? r.record ?? '?'}`, expr: r.expr }))
  )
}

/** Names the rules record (usable by later rules, dashboards and alerts). */
export function recordedNames(rules: RuleFile): string[] {
  return rules.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : [])))
}

interface Panel {
  id?: number
  title?: string
  targets?: { refId?: string; expr?: string }[]
  panels?: Panel[]
}
export interface Dashboard {
  panels: Panel[]
  templating?: { list: { name: string; definition?: string; query?: unknown }[] }
}

/** Every PromQL expression in a dashboard: panel targets (rows included) and query variables. */
export function dashboardExpressions(dashboard: Dashboard): PromqlUse[] {
  const uses: PromqlUse[] = []
  const visit = (panel: Panel): void => {
    for (const t of panel.targets ?? []) {
      if (t.expr !== undefined) {
        uses.push({
          where: `panel ${panel.id} (${panel.title}) ${t.refId}`,
          expr: substituteGrafanaVariables(t.expr),
        })
      }
    }
    panel.panels?.forEach(visit)
  }
  dashboard.panels.forEach(visit)
  for (const v of dashboard.templating?.list ?? []) {
    // label_values(metric, label) is Grafana's, not PromQL: its metric is a plain selector.
    const m = /^label_values\((.+),\s*\w+\)$/.exec(v.definition ?? '')
    if (m?.[1]) uses.push({ where: `variable ${v.name}`, expr: m[1] })
  }
  return uses
}

export interface MetricProblem {
  where: string
  problem: string
}

/**
 * Syntax errors and metric names that are neither exported by the broker (`known`), added by
 * Prometheus to every target, nor recorded by the rules.
 */
export function checkMetricReferences(
  uses: readonly PromqlUse[],
  known: ReadonlyMap<string, MetricType>,
  recorded: readonly string[] = []
): MetricProblem[] {
  const problems: MetricProblem[] = []
  for (const { where, expr } of uses) {
    const { metrics, errors } = readPromql(expr)
    if (errors.length > 0) {
      problems.push({ where, problem: `PromQL syntax error at offset ${errors[0]} in: ${expr}` })
    }
    for (const name of metrics) {
      if (familyOf(name, known) || SCRAPE_SERIES.has(name) || recorded.includes(name)) continue
      problems.push({ where, problem: `${name} is not a metric the broker exports` })
    }
  }
  return problems
}

/** Every metric family the expressions use (suffixes resolved), for the report to the lead. */
export function usedFamilies(
  uses: readonly PromqlUse[],
  known: ReadonlyMap<string, MetricType>
): string[] {
  const names = new Set<string>()
  for (const { expr } of uses) {
    for (const name of readPromql(expr).metrics) names.add(familyOf(name, known) ?? name)
  }
  return [...names].sort()
}
