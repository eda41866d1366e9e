import { readFileSync } from 'node:fs'
import { parse } from 'yaml'
import { describe, expect, it } from 'vitest'
import { deployPath } from '../src/paths.js'

interface Panel {
  id: number
  type: string
  title: string
  datasource?: { type: string; uid: string }
  gridPos: { x: number; y: number; w: number; h: number }
  targets?: { expr: string; datasource?: { uid: string } }[]
}
const dashboard = JSON.parse(
  readFileSync(deployPath('grafana', 'dashboards', 'wxbroker.json'), 'utf8')
) as {
  uid: string
  panels: Panel[]
  templating: { list: { name: string; type: string }[] }
}
const panels = dashboard.panels.filter((p) => p.type !== 'row')
// Series with an appid label.
const PER_APP =
  /\bwxbroker_(quota_\w+|token_(expires_in_seconds|generation|refresh_total|refresh_lead_seconds)|invalidations_total|app_failing|last_wechat_errcode|client_requests_total)\b/
const exprsOf = (title: string): string[] =>
  panels.find((p) => p.title === title)?.targets?.map((t) => t.expr) ?? []

describe('Grafana dashboard', () => {
  it('shows what an operator needs at a glance', () => {
    const wanted: Record<string, RegExp[]> = {
      'Quota used today': [
        /wxbroker_quota_used\b.*\/.*wxbroker_quota_limit/,
        /wxbroker_quota_wechat_used.*\/.*wxbroker_quota_wechat_limit/,
      ],
      'Quota used vs limit': [
        /wxbroker_quota_used\b/,
        /wxbroker_quota_limit/,
        /wxbroker_quota_wechat_used/,
      ],
      'Token time to expiry': [
        /wxbroker_token_expires_in_seconds/,
        /wxbroker_token_refresh_lead_seconds/,
      ],
      'Refreshes by reason and result': [
        /by \(appid, reason, result\).*wxbroker_token_refresh_total/,
      ],
      'WeChat calls by errcode': [/by \(endpoint, errcode\).*wxbroker_wechat_requests_total/],
      'Invalidations by result': [/by \(appid, result\).*wxbroker_invalidations_total/],
      'Request rate by route': [/by \(route, status\).*wxbroker_http_requests_total/],
      'Request p99 by route': [
        /histogram_quantile\(0\.99, sum by \(route, le\).*wxbroker_http_request_duration_seconds_bucket/,
      ],
      'Requests by client': [/by \(client, appid, scope\).*wxbroker_client_requests_total/],
      'Replicas and store': [/wxbroker_store_up/],
      // What /readyz lists in `degraded`: replicas stay ready through a store outage (design §3.7).
      Degradations: [/by \(instance, reason\).*wxbroker_degraded/],
    }
    for (const [title, patterns] of Object.entries(wanted)) {
      const exprs = exprsOf(title)
      for (const pattern of patterns)
        expect(
          exprs.some((e) => pattern.test(e)),
          `${title}: ${pattern}`
        ).toBe(true)
    }
  })

  it('every panel queries the selected data source, per selected app where it has an appid', () => {
    expect(dashboard.templating.list.map((v) => [v.name, v.type])).toEqual([
      ['datasource', 'datasource'],
      ['appid', 'query'],
    ])
    for (const p of panels) {
      expect(p.datasource?.uid, p.title).toBe('${datasource}')
      expect(p.targets?.length, p.title).toBeGreaterThan(0)
      for (const t of p.targets ?? []) {
        expect(t.datasource?.uid, p.title).toBe('${datasource}')
        if (PER_APP.test(t.expr)) {
          expect(t.expr, p.title).toContain('appid=~"$appid"')
        }
      }
    }
  })

  it('panel ids are unique and panels do not overlap on the 24-column grid', () => {
    const ids = dashboard.panels.map((p) => p.id)
    expect(new Set(ids).size).toBe(ids.length)
    const cells = new Set<string>()
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos
      expect(x + w, p.title).toBeLessThanOrEqual(24)
      for (let i = x; i < x + w; i++) {
        for (let j = y; j < y + h; j++) {
          expect(cells.has(`${i},${j}`), `${p.title} overlaps at ${i},${j}`).toBe(false)
          cells.add(`${i},${j}`)
        }
      }
    }
  })

  it('is provisioned from the directory compose mounts, against the provisioned data source', () => {
    const provider = parse(
      readFileSync(deployPath('grafana', 'provisioning', 'dashboards', 'wxbroker.yml'), 'utf8')
    ) as {
      providers: { options: { path: string } }[]
    }
    expect(provider.providers[0]?.options.path).toBe('/var/lib/grafana/dashboards')
    const datasources = parse(
      readFileSync(deployPath('grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8')
    ) as {
      datasources: { type: string; url: string; isDefault: boolean }[]
    }
    expect(datasources.datasources).toEqual([
      expect.objectContaining({
        type: 'prometheus',
        url: 'http://prometheus:9090',
        isDefault: true,
      }),
    ])
  })
})
