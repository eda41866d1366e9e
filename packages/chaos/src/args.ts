import { parseArgs } from 'node:util'
import { FAULT_KINDS, type FaultKind } from './plan.js'

/** Runs shorter than this leave docs/reliability.md alone unless --write says otherwise. */
export const WRITE_FROM_MINUTES = 5

export const USAGE = `usage: pnpm chaos [--seed N] [--minutes M] [--faults KIND,...] [--dump FILE] [--write | --no-write]

  --seed N          the schedule's seed (default: a new one, printed)
  --minutes M       minutes of faults (default 10; fractions allowed)
  --faults K,...    only these fault kinds (default: all):
                    ${FAULT_KINDS.join(',\n                    ')}
  --dump FILE       also write everything the run recorded (JSON, no tokens) to FILE
  --write           write docs/reliability.md even for a run under ${WRITE_FROM_MINUTES} minutes
  --no-write        never write docs/reliability.md (runs of ${WRITE_FROM_MINUTES}+ minutes write it by default)`

export interface ChaosArgs {
  seed: number | undefined
  minutes: number
  kinds: FaultKind[] | undefined
  write: boolean
  dump: string | undefined
}

/** Parses `pnpm chaos` arguments; throws an Error whose message names the option and the fix. */
export function parseChaosArgs(argv: string[]): ChaosArgs {
  const { values } = parseArgs({
    args: argv,
    options: {
      seed: { type: 'string' },
      minutes: { type: 'string' },
      faults: { type: 'string' },
      dump: { type: 'string' },
      write: { type: 'boolean' },
      'no-write': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) throw new Error('help')
  let seed: number | undefined
  if (values.seed !== undefined) {
    if (!/^\d{1,10}$/.test(values.seed) || Number(values.seed) >= 2 ** 32)
      throw new Error(`--seed must be a whole number from 0 to ${2 ** 32 - 1} (got ${values.seed})`)
    seed = Number(values.seed)
  }
  const minutes = values.minutes === undefined ? 10 : Number(values.minutes)
  if (!Number.isFinite(minutes) || minutes <= 0 || minutes > 24 * 60)
    throw new Error(`--minutes must be a number of minutes above 0 (got ${values.minutes})`)
  let kinds: FaultKind[] | undefined
  if (values.faults !== undefined) {
    const names = values.faults.split(',').map((k) => k.trim())
    const unknown = names.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k))
    if (unknown.length || names.length === 0)
      throw new Error(
        `--faults: unknown kind ${unknown.join(', ')}; choose from ${FAULT_KINDS.join(', ')}`
      )
    kinds = names as FaultKind[]
  }
  if (values.write && values['no-write'])
    throw new Error('--write and --no-write contradict each other; give one')
  const write = values['no-write'] ? false : (values.write ?? minutes >= WRITE_FROM_MINUTES)
  return { seed, minutes, kinds, write, dump: values.dump }
}
