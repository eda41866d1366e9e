import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { brokerScrape, knownMetrics } from '../src/known-metrics.js'
import type { Dashboard } from '../src/metric-references.js'
import {
  checkMetricReferences,
  dashboardExpressions,
  readRuleFile,
  recordedNames,
  ruleExpressions,
  usedFamilies,
} from '../src/metric-references.js'
import { deployPath } from '../src/paths.js'
import { parsePrometheus } from '@wxbroker/testkit'
import { readPromql, substituteGrafanaVariables } from '../src/promql.js'
import { TEST_APPS } from '../src/running-broker.js'

const rules = readRuleFile(deployPath('prometheus', 'alerts.yml'))
const dashboard = JSON.parse(
  readFileSync(deployPath('grafana', 'dashboards', 'wxbroker.json'), 'utf8')
) as Dashboard

describe('metrics a running broker exports', () => {
  it('has broker families with labelled series, and families declared before their first sample', async () => {
    const { families, text } = await brokerScrape()
    const { samples } = parsePrometheus(text)
    for (const app of TEST_APPS) {
      const used = samples.find(
        (s) => s.name === 'wxbroker_quota_used' && s.labels.appid === app.appid
      )
      expect(used?.value, app.appid).toBeGreaterThanOrEqual(1)
    }
    expect(
      samples.some(
        (s) => s.name === 'wxbroker_client_requests_total' && s.labels.client === 'deploy-e2e'
      )
    ).toBe(true)
    expect(families.get('wxbroker_http_request_duration_seconds')).toBe('histogram')
    expect(families.get('process_resident_memory_bytes')).toBe('gauge')
    // No token was reported as rejected: the family is known from its # TYPE line alone.
    expect(families.get('wxbroker_invalidations_total')).toBe('counter')
    expect(samples.some((s) => s.name === 'wxbroker_invalidations_total')).toBe(false)
  })
})

describe('metric names in the dashboard and the rules', () => {
  it('reads metric names from PromQL with the Prometheus grammar', () => {
    expect(
      readPromql(
        'histogram_quantile(0.99, sum by (le) (rate(a_seconds_bucket{x="y"}[5m]))) / on (appid) group_left b:rec or absent(up{job="j"})'
      )
    ).toEqual({ metrics: ['a_seconds_bucket', 'b:rec', 'up'], errors: [] })
    expect(readPromql('sum(rate(x[5m])').errors.length).toBeGreaterThan(0)
    expect(substituteGrafanaVariables('rate(x{appid=~"$appid"}[$__rate_interval])')).toBe(
      'rate(x{appid=~".*"}[5m])'
    )
  })

  it('flags names the broker does not export, histogram suffixes on non-histograms, and syntax errors', async () => {
    const known = await knownMetrics()
    const problems = checkMetricReferences(
      [
        { where: 'a', expr: 'wxbroker_quota_usd' },
        { where: 'b', expr: 'rate(wxbroker_http_request_duration_seconds_bucket[5m])' },
        { where: 'c', expr: 'wxbroker_quota_used_count' },
        { where: 'd', expr: 'sum(wxbroker_store_up' },
        { where: 'e', expr: 'process_resident_memory_bytes + up' },
      ],
      known
    )
    expect(problems.map((p) => `${p.where}: ${p.problem}`)).toEqual([
      'a: wxbroker_quota_usd is not a metric the broker exports',
      'c: wxbroker_quota_used_count is not a metric the broker exports',
      'd: PromQL syntax error at offset 21 in: sum(wxbroker_store_up',
    ])
  })

  it('every metric the dashboard and the rules use is one the broker exports', async () => {
    const known = await knownMetrics()
    const uses = [...ruleExpressions(rules), ...dashboardExpressions(dashboard)]
    expect(uses.length).toBeGreaterThan(30)
    expect(checkMetricReferences(uses, known, recordedNames(rules))).toEqual([])
    // The series the lead must make sure the broker exports (listed in the deploy report).
    expect(usedFamilies(uses, known).filter((n) => n.startsWith('wxbroker_'))).toEqual([
      'wxbroker_app_failing',
      'wxbroker_client_requests_total',
      'wxbroker_degraded',
      'wxbroker_foreign_refresh_total',
      'wxbroker_http_request_duration_seconds',
      'wxbroker_http_requests_total',
      'wxbroker_invalidations_total',
      'wxbroker_last_wechat_errcode',
      'wxbroker_lock_acquire_total',
      'wxbroker_quota_limit',
      'wxbroker_quota_used',
      'wxbroker_quota_warn_ratio',
      'wxbroker_quota_wechat_limit',
      'wxbroker_quota_wechat_used',
      'wxbroker_report_refreshes_limit',
      'wxbroker_report_refreshes_used',
      'wxbroker_secret_rejected',
      'wxbroker_store_up',
      'wxbroker_token_expires_in_seconds',
      'wxbroker_token_generation',
      'wxbroker_token_refresh_duration_seconds',
      'wxbroker_token_refresh_lead_seconds',
      'wxbroker_token_refresh_total',
      'wxbroker_wechat_request_duration_seconds',
      'wxbroker_wechat_requests_total',
    ])
  })
})
