import { describe, expect, it } from 'vitest'
import { parseChaosArgs } from '../src/args.js'
import { FAULT_KINDS, KINDS, planFaults, resourcesOf } from '../src/plan.js'
import { seededRandom } from '../src/random.js'

describe('the seeded schedule', () => {
  it('one seed gives one plan; another seed another', () => {
    const a = planFaults(seededRandom(7), 10)
    expect(planFaults(seededRandom(7), 10)).toEqual(a)
    expect(planFaults(seededRandom(8), 10)).not.toEqual(a)
  })

  it('every round holds every kind once, and the rounds fill the minutes', () => {
    const plan = planFaults(seededRandom(3), 20)
    const n = FAULT_KINDS.length
    expect(plan.length % n).toBe(0)
    for (let round = 0; round < plan.length / n; round++) {
      const kinds = plan.slice(round * n, (round + 1) * n).map((f) => f.kind)
      expect(new Set(kinds)).toEqual(new Set(FAULT_KINDS))
    }
    const estimate = plan.reduce((ms, f) => ms + KINDS[f.kind].estimateMs, 0)
    expect(estimate).toBeGreaterThanOrEqual(20 * 60_000)
    expect(plan.map((f) => f.step)).toEqual(plan.map((_f, i) => i + 1))
  })

  it('overlaps only faults that touch different parts, and some do overlap', () => {
    const plan = planFaults(seededRandom(11), 60)
    const overlapping = plan.filter((f) => f.overlapNextAfterMs !== null)
    expect(overlapping.length).toBeGreaterThan(5)
    for (const f of overlapping) {
      const next = plan[f.step]! // steps are 1-based: plan[step] is the next one
      const shared = resourcesOf(f).filter((r) => resourcesOf(next).includes(r))
      expect(shared, `${f.kind} overlapping ${next.kind}`).toEqual([])
    }
  })

  it('--faults limits the kinds; the plan depends on the set, not the order they were named in', () => {
    const plan = planFaults(seededRandom(1), 5, ['replica-kill', 'token-revoked'])
    expect(new Set(plan.map((f) => f.kind))).toEqual(new Set(['replica-kill', 'token-revoked']))
    expect(planFaults(seededRandom(1), 5, ['token-revoked', 'replica-kill'])).toEqual(plan)
  })

  it('the generator is uniform enough to pick every index', () => {
    const random = seededRandom(99)
    const seen = new Set(Array.from({ length: 200 }, () => random.int(0, 2)))
    expect(seen).toEqual(new Set([0, 1, 2]))
  })
})

describe('pnpm chaos arguments', () => {
  it('defaults: a new seed, 10 minutes, every kind, writing the report', () => {
    expect(parseChaosArgs([])).toEqual({
      seed: undefined,
      minutes: 10,
      kinds: undefined,
      write: true,
      dump: undefined,
    })
  })

  it('short runs leave docs/reliability.md alone unless --write says otherwise', () => {
    expect(parseChaosArgs(['--minutes', '1']).write).toBe(false)
    expect(parseChaosArgs(['--minutes', '1', '--write']).write).toBe(true)
    expect(parseChaosArgs(['--minutes', '10', '--no-write']).write).toBe(false)
  })

  it('bad values name the option and what it takes', () => {
    expect(() => parseChaosArgs(['--seed', 'x'])).toThrow(/--seed must be a whole number/)
    expect(() => parseChaosArgs(['--minutes', '0'])).toThrow(/--minutes must be a number/)
    expect(() => parseChaosArgs(['--faults', 'replica-kill,nope'])).toThrow(
      /--faults: unknown kind nope; choose from redis-node-restart/
    )
    expect(() => parseChaosArgs(['--write', '--no-write'])).toThrow(/contradict/)
    expect(() => parseChaosArgs(['--bogus'])).toThrow(/bogus/)
  })

  it('takes a seed, fractional minutes and a list of kinds', () => {
    expect(
      parseChaosArgs(['--seed', '42', '--minutes', '0.75', '--faults', 'replica-kill,wechat-drop'])
    ).toMatchObject({ seed: 42, minutes: 0.75, kinds: ['replica-kill', 'wechat-drop'] })
  })
})
