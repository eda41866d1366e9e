export { parseChaosArgs, USAGE, WRITE_FROM_MINUTES, type ChaosArgs } from './args.js'
export { judge, INVARIANTS, type Verdict, type Violation, type InvariantId } from './invariants.js'
export {
  FAULT_KINDS,
  planFaults,
  describePlanned,
  type FaultKind,
  type PlannedFault,
} from './plan.js'
export { seededRandom, newSeed, type Random } from './random.js'
export { consoleReport, markdown, totalsLine } from './report.js'
export { runSoak, type SoakOptions, type SoakRun, type FaultRecord } from './soak.js'
