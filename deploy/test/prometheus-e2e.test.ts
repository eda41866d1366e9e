import { parse } from 'yaml'
import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deployPath } from '../src/paths.js'
import { pollUntil } from '../src/poll.js'
import {
  retargetConfig,
  startPrometheus,
  waitForVector,
  type PrometheusConfig,
  type PrometheusServer,
} from '../src/prometheus-server.js'
import { startRunningBroker, TEST_APPS, type RunningBroker } from '../src/running-broker.js'
import { INSTALL_HINTS, requireTool } from '../src/tools.js'

// A real Prometheus scrapes a real broker with the shipped scrape config, and its view of the
// quota matches the broker's own.

const shippedPath = deployPath('prometheus', 'prometheus.yml')

let binary: string
let broker: RunningBroker
let prom: PrometheusServer
let target: string

beforeAll(async () => {
  binary = requireTool('prometheus', INSTALL_HINTS.prometheus)
  // The broker has fetched its tokens before the first scrape, so the count is settled.
  broker = await startRunningBroker()
  target = new URL(broker.url).host
  prom = await startPrometheus(
    binary,
    retargetConfig(shippedPath, { job: 'wxbroker', targets: [target], interval: '1s' })
  )
})

afterAll(async () => {
  await prom?.stop()
  await broker?.stop()
})

describe('Prometheus scraping a running broker', () => {
  it('the test config is the shipped one with only the targets and intervals replaced', () => {
    const shipped = parse(readFileSync(shippedPath, 'utf8')) as PrometheusConfig
    const derived = retargetConfig(shippedPath, {
      job: 'wxbroker',
      targets: ['h:1'],
      interval: '1s',
    })
    expect(derived.scrape_configs[0]?.static_configs).toEqual([{ targets: ['h:1'] }])
    expect(derived.rule_files).toEqual([deployPath('prometheus', 'alerts.yml')])
    const strip = (c: PrometheusConfig) => ({
      ...c,
      global: { ...c.global, scrape_interval: 'x', evaluation_interval: 'x' },
      rule_files: undefined,
      scrape_configs: c.scrape_configs.map((j) => ({ ...j, static_configs: undefined })),
    })
    expect(strip(derived)).toEqual(strip(shipped))
    expect(() => retargetConfig(shippedPath, { job: 'nope', targets: [], interval: '1s' })).toThrow(
      'has no scrape job nope'
    )
  })

  it('wxbroker_quota_used through the HTTP API matches the broker’s own count, per app', async () => {
    const up = await waitForVector(prom, 'up{job="wxbroker"}')
    expect(up.map((s) => [s.metric.instance, s.value[1]])).toEqual([[target, '1']])
    const samples = await waitForVector(prom, 'wxbroker_quota_used{job="wxbroker"}')
    const apps = await broker.apps()
    expect(apps.map((a) => a.appid).sort()).toEqual(TEST_APPS.map((a) => a.appid).sort())
    for (const app of apps) {
      expect(app.quota.used, app.appid).toBeGreaterThanOrEqual(1)
      const inPrometheus = samples.filter((s) => s.metric.appid === app.appid)
      expect(inPrometheus, app.appid).toHaveLength(1)
      expect(Number(inPrometheus[0]?.value[1]), app.appid).toBe(app.quota.used)
    }
  })

  it('loads the shipped alert rules and evaluates them against the scrape', async () => {
    type Rule = { name: string; health: string; lastError?: string }
    const readRules = async () =>
      (await prom.api<{ groups: { rules: Rule[] }[] }>('rules')).groups.flatMap((g) => g.rules)
    // Until their first evaluation rules report health "unknown".
    const rules = await pollUntil(
      readRules,
      (rs) => rs.every((r) => r.health !== 'unknown'),
      10_000
    )
    expect(rules.length).toBeGreaterThanOrEqual(9)
    expect(
      rules
        .filter((r) => r.health !== 'ok')
        .map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)
    ).toEqual([])
    // Before the first scrape WxbrokerUnavailable is pending (absent(up)); evaluations after
    // it must leave nothing active: a healthy broker raises no alert.
    await waitForVector(prom, 'up{job="wxbroker"}')
    const activeAlerts = async () =>
      (await prom.api<{ alerts: { labels: { alertname: string } }[] }>('alerts')).alerts.map(
        (a) => a.labels.alertname
      )
    expect(await pollUntil(activeAlerts, (names) => names.length === 0, 5000)).toEqual([])
  })

  it('a config Prometheus rejects fails the start loudly, with its log', async () => {
    const broken = retargetConfig(shippedPath, {
      job: 'wxbroker',
      targets: [target],
      interval: '1s',
    })
    broken.global = { ...broken.global, scrape_interval: 'every-minute' }
    await expect(startPrometheus(binary, broken)).rejects.toThrow(
      /prometheus exited before it was ready:[\s\S]*every-minute/
    )
  })
})
