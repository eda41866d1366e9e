import { machine, table } from '@wxbroker/testkit'
import { percentile, type KindRow, type Verdict } from './invariants.js'
import { describePlanned } from './plan.js'
import { recoveryMs, withinBound, type SoakRun } from './soak.js'

// What a run prints and publishes: the command and seed, the schedule, a row per fault kind, the
// invariants, the violations with their evidence, and one last line with the totals.

export function command(run: SoakRun): string {
  const kinds =
    run.options.kinds.length === run.plan.length || run.options.kinds.length >= 15
      ? ''
      : ` --faults ${run.options.kinds.join(',')}`
  return `pnpm chaos --seed ${run.options.seed} --minutes ${run.options.minutes}${kinds}`
}

const sec = (ms: number): string => (Number.isNaN(ms) ? '—' : `${(ms / 1000).toFixed(1)} s`)

function cells(r: Omit<KindRow, 'kind'>): (string | number)[] {
  return [
    r.injected === r.executed ? r.executed : `${r.injected} of ${r.executed}`,
    r.calls,
    r.refused,
    r.clientErrors,
    sec(percentile(r.recoveryMs, 50)),
    sec(r.recoveryMs.at(-1) ?? Number.NaN),
    `${r.extra} (${r.allowance})`,
    r.violations === 0 ? 'none' : `**${r.violations}**`,
  ]
}

export function kindTable(verdict: Verdict): string {
  const header = [
    'fault',
    'injected',
    'calls made',
    'refused',
    'client errors',
    'recovery p50',
    'recovery max',
    'extra upstream calls (allowed)',
    'violations',
  ]
  const rows = verdict.rows.map((r) => [`\`${r.kind}\``, ...cells(r)])
  rows.push([
    '**total**',
    ...cells(verdict.totals).map((c) => (String(c).startsWith('**') ? c : `**${c}**`)),
  ])
  return table(header, rows)
}

export function invariantTable(verdict: Verdict): string {
  return table(
    ['invariant', 'target', 'observed', 'holds'],
    verdict.invariants.map((i) => [i.title, i.target, i.observed, i.ok ? 'yes' : '**no**'])
  )
}

export function totalsLine(run: SoakRun, verdict: Verdict): string {
  const t = verdict.totals
  const broken = verdict.invariants.filter((i) => !i.ok).map((i) => i.id)
  return (
    `chaos: seed ${run.options.seed}, ${t.faults} faults (${t.injected} met), ${t.calls} calls, ` +
    `${t.refused} refused, ${t.clientErrors} client errors, extra upstream ${t.extra}/${t.allowance}, ` +
    `${t.violations} violations → ${broken.length === 0 ? 'PASS' : `FAIL (${broken.join(', ')})`}`
  )
}

function schedule(run: SoakRun): string {
  const ran = new Map(run.faults.map((f) => [f.planned.step, f]))
  const rows = run.plan.map((p) => {
    const f = ran.get(p.step)
    if (!f) return [p.step, '—', `\`${p.kind}\``, describePlanned(p), 'not reached']
    const result = !f.outcome.injected
      ? 'not met'
      : f.recoveredAt === null
        ? '**not recovered**'
        : withinBound(f)
          ? `recovered in ${sec(recoveryMs(f)!)}`
          : `**recovered late, in ${sec(recoveryMs(f)!)}**`
    const notes = f.outcome.notes.length ? `; ${f.outcome.notes.join('; ')}` : ''
    return [
      p.step,
      sec(f.start - run.startedAt),
      `\`${p.kind}\``,
      f.description,
      `${result}${notes}`,
    ]
  })
  const reached = rows.filter((r) => r[4] !== 'not reached')
  return table(['#', 'start', 'fault', 'what', 'result'], reached)
}

/** The generated part of docs/reliability.md. */
export function markdown(run: SoakRun, verdict: Verdict): string {
  const minutes = ((run.endedAt - run.startedAt) / 60_000).toFixed(1)
  const lines = [
    `Command: \`${command(run)}\` — a ${minutes}-minute run, ${run.options.clients} client processes, ${new Date(run.startedAt).toISOString().slice(0, 16).replace('T', ' ')} UTC, ${machine()}.`,
    '',
    '### Per fault kind',
    '',
    kindTable(verdict),
    '',
    '### Invariants',
    '',
    invariantTable(verdict),
    '',
  ]
  if (verdict.violations.length) {
    lines.push('### Violations', '')
    for (const v of verdict.violations) lines.push(`- **${v.invariant}** — ${v.detail}`)
    lines.push('')
  }
  if (verdict.notes.length) {
    lines.push('### Observations', '')
    for (const n of verdict.notes) lines.push(`- ${n}`)
    lines.push('')
  }
  lines.push('### Schedule', '', schedule(run))
  return lines.join('\n')
}

/** What `pnpm chaos` prints after the per-fault lines. */
export function consoleReport(run: SoakRun, verdict: Verdict): string {
  const lines = ['', kindTable(verdict), '', invariantTable(verdict), '']
  for (const v of verdict.violations) lines.push(`✗ ${v.invariant}: ${v.detail}`)
  for (const n of verdict.notes) lines.push(`· ${n}`)
  lines.push('', totalsLine(run, verdict))
  return lines.join('\n')
}
