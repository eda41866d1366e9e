import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { beforeAll, describe, expect, it } from 'vitest'
import { headingAnchors } from '../src/markdown-anchors.js'
import { readRuleFile } from '../src/metric-references.js'
import { deployPath, repoPath } from '../src/paths.js'
import { INSTALL_HINTS, requireTool, runTool } from '../src/tools.js'

const rulesPath = deployPath('prometheus', 'alerts.yml')
const testsPath = deployPath('prometheus', 'tests', 'alerts.test.yml')
const rules = readRuleFile(rulesPath)
const alerts = rules.groups.flatMap((g) =>
  g.rules.flatMap((r) =>
    r.alert
      ? [
          r as typeof r & {
            alert: string
            annotations: Record<string, string>
            labels: Record<string, string>
          },
        ]
      : []
  )
)

let promtool: string
beforeAll(() => {
  promtool = requireTool('promtool', INSTALL_HINTS.promtool)
})

describe('Prometheus rules and scrape config', () => {
  it('promtool accepts the rules and the scrape config', () => {
    const rulesCheck = runTool(promtool, ['check', 'rules', rulesPath])
    expect(rulesCheck.stderr + rulesCheck.stdout).toContain('SUCCESS')
    expect(rulesCheck.status).toBe(0)
    const configCheck = runTool(promtool, [
      'check',
      'config',
      deployPath('prometheus', 'prometheus.yml'),
    ])
    expect(configCheck.status, configCheck.stderr).toBe(0)
  })

  it('promtool test rules passes', () => {
    const run = runTool(
      promtool,
      ['test', 'rules', 'alerts.test.yml'],
      deployPath('prometheus', 'tests')
    )
    expect(run.status, run.stdout + run.stderr).toBe(0)
    expect(run.stdout).toContain('SUCCESS')
  })

  it('promtool test rules fails when an expectation is wrong (the tests can fail)', () => {
    const tests = readFileSync(testsPath, 'utf8')
      .replace('../alerts.yml', rulesPath)
      .replace('expires in 7m 40s and no refresh', 'expires in 9m and no refresh')
    const dir = mkdtempSync(join(tmpdir(), 'wxbroker-promtool-'))
    writeFileSync(join(dir, 'alerts.test.yml'), tests)
    const run = runTool(promtool, ['test', 'rules', 'alerts.test.yml'], dir)
    rmSync(dir, { recursive: true, force: true })
    expect(run.status).not.toBe(0)
    expect(run.stdout + run.stderr).toContain('WxbrokerTokenRefreshOverdue')
  })

  it('every alert has a unit test in which it fires', () => {
    const doc = parse(readFileSync(testsPath, 'utf8')) as {
      tests: { alert_rule_test?: { alertname: string; exp_alerts: unknown[] }[] }[]
    }
    const firing = new Set(
      doc.tests.flatMap((t) =>
        (t.alert_rule_test ?? []).filter((a) => a.exp_alerts.length > 0).map((a) => a.alertname)
      )
    )
    expect(alerts.length).toBeGreaterThanOrEqual(9)
    expect(alerts.map((a) => a.alert).filter((name) => !firing.has(name))).toEqual([])
  })

  it('every alert has a severity, a summary and a runbook link that lands on a heading of docs/operations.md', () => {
    const anchors = headingAnchors(readFileSync(repoPath('docs', 'operations.md'), 'utf8'))
    for (const a of alerts) {
      expect(['warning', 'critical'], a.alert).toContain(a.labels.severity)
      expect(a.annotations.summary, a.alert).toBeTruthy()
      const [file, anchor] = (a.annotations.runbook_url ?? '').split('#')
      expect(file, a.alert).toBe('docs/operations.md')
      expect(
        anchors.has(anchor ?? ''),
        `${a.alert}: #${anchor} is not a heading in docs/operations.md`
      ).toBe(true)
    }
  })
})
