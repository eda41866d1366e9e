import { describe, expect, it } from 'vitest'
import { judge } from '../src/invariants.js'
import type { FaultKind } from '../src/plan.js'
import { consoleReport } from '../src/report.js'
import { runSoak } from '../src/soak.js'

// The short form of `pnpm chaos` that CI runs: the real system (3 `wxbroker serve` replicas, a
// 3-node Redis quorum, the simulator, 3 client processes) for about 45 s of faults under a fixed
// seed, and every invariant asserted. Four kinds meet the system within 45 s (more would not fit
// the suite's time); the 10-minute run in docs/reliability.md meets every kind.
const SEED = 12
const MINUTES = 0.75
const KINDS: FaultKind[] = [
  'holder-kill-after-issue',
  'rolling-restart',
  'redis-majority-down',
  'replica-kill',
]

describe('pnpm chaos, short fixed-seed form', () => {
  it(`seed ${SEED}: a rolling restart, a crash after WeChat issued during a Redis majority loss, a replica SIGKILL — every invariant holds`, async () => {
    const lines: string[] = []
    const run = await runSoak({
      seed: SEED,
      minutes: MINUTES,
      kinds: KINDS,
      log: (line) => lines.push(line),
    })
    const verdict = judge(run)
    const report = [...lines, consoleReport(run, verdict)].join('\n')
    // It really ran: every planned fault met the system, and the clients kept calling.
    expect(run.faults.map((f) => f.planned.kind).sort(), report).toEqual([...KINDS].sort())
    expect(
      run.faults.filter((f) => !f.outcome.injected).map((f) => f.planned.kind),
      report
    ).toEqual([])
    expect(verdict.totals.calls, report).toBeGreaterThan(1000)
    expect(verdict.violations, report).toEqual([])
    expect(
      verdict.invariants.filter((i) => !i.ok),
      report
    ).toEqual([])
  }, 180_000)
})
