import { Calls } from '../calls.js'
import { VirtualClock } from '../clock.js'
import { Faults, HeldAnswers } from '../faults.js'
import type { SimAppInit } from '../types.js'
import { Apps } from './apps.js'
import { LifetimeCounters } from './lifetime-counters.js'
import { Messages } from './messages.js'
import { Quotas } from './quota.js'
import { RiskyKeywords } from './risky-keywords.js'
import { Tokens } from './tokens.js'
import { Users } from './users.js'

/** Everything the simulator remembers. `reset()` returns it to the state right after start. */
export class SimState {
  readonly clock = new VirtualClock()
  readonly apps = new Apps()
  readonly tokens = new Tokens()
  readonly quotas = new Quotas()
  readonly users = new Users()
  readonly messages = new Messages()
  readonly risky = new RiskyKeywords()
  readonly lifetime = new LifetimeCounters()
  readonly faults = new Faults()
  readonly held = new HeldAnswers()
  readonly calls = new Calls()

  constructor(private readonly initialApps: readonly SimAppInit[] = []) {
    for (const app of initialApps) this.apps.register(app)
  }

  now(): number {
    return this.clock.now()
  }

  reset(): void {
    this.clock.reset()
    this.apps.clear()
    this.tokens.clear()
    this.quotas.reset()
    this.users.clear()
    this.messages.clear()
    this.risky.clear()
    this.lifetime.clear()
    this.faults.clear()
    this.held.clear()
    this.calls.clear()
    for (const app of this.initialApps) this.apps.register(app)
  }
}
