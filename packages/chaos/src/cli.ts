// `pnpm chaos`: the combined-fault soak (docs/reliability.md). Prints the seed, a line per fault,
// the table and a last line with the totals; exits 1 when an invariant is broken, 2 on bad usage.
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { writeDocSection } from '@wxbroker/testkit'
import { parseChaosArgs, USAGE } from './args.js'
import { judge } from './invariants.js'
import { newSeed } from './random.js'
import { consoleReport, markdown } from './report.js'
import { runSoak } from './soak.js'

const DOCS = fileURLToPath(new URL('../../../docs/reliability.md', import.meta.url))

const out = (line: string): void => void process.stdout.write(`${line}\n`)

async function main(): Promise<number> {
  let args
  try {
    args = parseChaosArgs(process.argv.slice(2))
  } catch (e) {
    const message = (e as Error).message
    if (message === 'help') {
      out(USAGE)
      return 0
    }
    process.stderr.write(`chaos: ${message}\n${USAGE}\n`)
    return 2
  }
  const seed = args.seed ?? newSeed()
  const kinds = args.kinds ? ` --faults ${args.kinds.join(',')}` : ''
  out(`chaos: seed ${seed} (repeat: pnpm chaos --seed ${seed} --minutes ${args.minutes}${kinds})`)
  const run = await runSoak({
    seed,
    minutes: args.minutes,
    ...(args.kinds ? { kinds: args.kinds } : {}),
    log: out,
  })
  const verdict = judge(run)
  out(consoleReport(run, verdict))
  if (args.dump !== undefined) {
    writeFileSync(args.dump, JSON.stringify({ ...run, verdict }, null, 1))
    out(`chaos: wrote ${args.dump}`)
  }
  if (args.write) {
    writeDocSection(DOCS, 'chaos:run', markdown(run, verdict), 'Reliability')
    out('chaos: wrote docs/reliability.md')
  }
  return verdict.violations.length === 0 ? 0 : 1
}

// Ctrl-C: exit now; the test kit kills every child process at exit (a watchdog covers a SIGKILL).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => process.exit(130))

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`chaos: ${(error as Error).stack ?? String(error)}\n`)
    process.exit(1)
  }
)
