import { describe, expect, it } from 'vitest'
import type { SimCallLogEntry } from '@wxbroker/wechat-sim'
import type { ClientCall } from '../src/clients.js'
import type { FaultOutcome } from '../src/faults.js'
import { extraCalls, judge, type InvariantId } from '../src/invariants.js'
import type { GenerationRecord } from '../src/observer.js'
import type { FaultKind } from '../src/plan.js'
import { APPS } from '../src/settings.js'
import type { FaultRecord, SoakRun } from '../src/soak.js'

// The judge on hand-made runs: each invariant must flag what breaks it, and only that. (The soak
// itself shows the system; these show the soak can fail.)

const T0 = 1_000_000
const CLASSIC = APPS[0]!
const s = (seconds: number): number => T0 + seconds * 1000

/** A quiet 120 s run: one classic token per 30 s, each due, each served, no faults. */
function quietRun(): SoakRun {
  const tokens = [0, 30, 60, 90].map((at, i) => ({
    id: `tok${i}`,
    issuedAt: s(at),
    expiresAt: s(at + 60),
  }))
  const generations: GenerationRecord[] = tokens.map((t, i) => ({
    app: 'classic',
    generation: i + 1,
    tokenId: t.id,
    obtainedAt: t.issuedAt - 2,
    wechatExpiresAt: t.expiresAt - 2,
    fetchedBy: 'r0',
    seenAt: t.issuedAt + 100,
  }))
  const tokenCalls: SimCallLogEntry[] = tokens.map((t) => ({
    method: 'GET',
    endpoint: CLASSIC.tokenApi,
    appid: CLASSIC.appid,
    errcode: 0,
    status: 200,
    at: t.issuedAt - 1,
  }))
  const calls: ClientCall[] = []
  for (let t = 1; t < 120; t += 1) {
    const token = tokens[Math.floor(t / 30)]!.id
    calls.push({ client: 0, app: 0, t: s(t), ms: 5, ok: true, tries: [[token, 0, 200]] })
  }
  return {
    options: { seed: 1, minutes: 2, clients: 1, kinds: [] },
    plan: [],
    faults: [],
    startedAt: T0,
    endedAt: s(120),
    calls,
    clientExits: [{ client: 0, t: s(121), code: 0, signal: null, expected: true, stderrTail: '' }],
    replicaExits: [],
    replicaStarts: [],
    replicaLogs: [],
    generations,
    readiness: [],
    replicaGenerations: [],
    replicaStates: [],
    quota: [{ t: s(100), app: 'classic', wechat: 4, store: 4 }],
    unexpected: [],
    tokenCalls,
    simTokens: { classic: tokens, stable: [] },
    foreign: [],
    finalQuota: [],
  }
}

function fault(
  step: number,
  kind: FaultKind,
  from: number,
  to: number,
  outcome: Partial<FaultOutcome> = {}
): FaultRecord {
  return {
    planned: { step, kind, params: {}, gapMs: 0, overlapNextAfterMs: null },
    description: kind,
    start: s(from),
    effectEnd: s(to),
    recoveryFrom: s(to),
    recoveredAt: s(to) + 500,
    windowEnd: s(to) + 3_500,
    outcome: {
      injected: true,
      effectEnd: s(to),
      allowance: 0,
      refusalsAllowed: false,
      notes: [],
      violations: [],
      ...outcome,
    },
  }
}

const broken = (run: SoakRun): InvariantId[] =>
  judge(run)
    .invariants.filter((i) => !i.ok)
    .map((i) => i.id)

describe('judge', () => {
  it('a quiet run breaks nothing: the minimum is one call per due generation', () => {
    const run = quietRun()
    expect(broken(run)).toEqual([])
    expect(extraCalls(run)).toMatchObject({
      extra: [],
      calls: { classic: 4 },
      minimum: { classic: 4 },
    })
  })

  it('a refused served token breaks "refused", except inside a revoke', () => {
    const run = quietRun()
    run.calls[50]!.tries.unshift(['tok1', 40001, 200])
    expect(broken(run)).toEqual(['refused'])
    run.faults.push(fault(1, 'token-revoked', 50, 50.5, { refusalsAllowed: true }))
    expect(broken(run)).toEqual([])
    // Another fault's window does not excuse it.
    run.faults[0]!.outcome.refusalsAllowed = false
    expect(judge(run).violations[0]!.detail).toMatch(
      /1 call\(s\) refused \(40001 ×1\).*during #1 token-revoked/
    )
  })

  it('a failed call breaks "client errors", whatever the fault', () => {
    const run = quietRun()
    run.faults.push(fault(1, 'redis-majority-down', 10, 15))
    run.calls[12]!.ok = false
    run.calls[12]!.err = 'BrokerError 503: no token'
    const verdict = judge(run)
    expect(verdict.invariants.filter((i) => !i.ok).map((i) => i.id)).toEqual(['clientErrors'])
    expect(verdict.violations[0]).toMatchObject({ faults: [1] })
    expect(verdict.rows[0]).toMatchObject({ kind: 'redis-majority-down', clientErrors: 1 })
  })

  it('a client going back to an older token, or a replica to an older generation, breaks "generations"', () => {
    const run = quietRun()
    run.calls[40]!.tries = [['tok0', 0, 200]]
    expect(broken(run)).toEqual(['generations'])
    const replicas = quietRun()
    replicas.replicaGenerations.push(
      { t: s(40), replica: 1, incarnation: 1, app: 'classic', generation: 2 },
      { t: s(45), replica: 1, incarnation: 2, app: 'classic', generation: 1 }
    )
    expect(broken(replicas)).toEqual(['generations'])
  })

  it('extra upstream calls are charged to the faults that force them; the rest breaks "upstream"', () => {
    const run = quietRun()
    // A -1 answer, a token WeChat issued that no replica kept, and an early generation.
    run.tokenCalls.push({ ...run.tokenCalls[1]!, at: s(29), errcode: -1 })
    run.tokenCalls.push({ ...run.tokenCalls[1]!, at: s(40) })
    run.simTokens.classic.push({ id: 'lost', issuedAt: s(40) + 1, expiresAt: s(100) })
    run.simTokens.classic.sort((a, b) => a.issuedAt - b.issuedAt)
    run.generations[2]!.obtainedAt = s(45) // generation 3 before generation 2 was due (s(60))
    const { extra } = extraCalls(run)
    expect(extra.map((e) => e.why)).toEqual([
      'failed call (errcode -1)',
      'WeChat issued a token no replica kept',
      'generation 3 made before generation 2 was due',
    ])
    expect(broken(run)).toEqual(['upstream'])
    run.faults.push(fault(1, 'wechat-minus1-burst', 28, 29, { allowance: 1 }))
    run.faults.push(fault(2, 'holder-kill-after-issue', 39, 46, { allowance: 1 }))
    expect(judge(run).violations.map((v) => v.detail)).toEqual([
      expect.stringMatching(
        /1 extra call\(s\) no fault accounts for: 1× classic: generation 3 made before generation 2 was due/
      ),
    ])
    // Allowance alone is not enough: a crash after WeChat issued does not force an early refresh.
    run.faults[1]!.outcome.allowance = 2
    expect(broken(run)).toEqual(['upstream'])
    run.faults.push(fault(3, 'token-revoked', 44, 45, { allowance: 1, refusalsAllowed: true }))
    expect(broken(run)).toEqual([])
  })

  it('a replica start may make one secret check per app (a stable_token call); others are extra', () => {
    const run = quietRun()
    const check = { ...run.tokenCalls[0]!, endpoint: '/cgi-bin/stable_token', at: s(50) }
    run.tokenCalls.push(check)
    expect(extraCalls(run).extra.map((e) => e.why)).toEqual([
      'a stable_token call for a classic app, not at a start',
    ])
    run.replicaStarts.push({ replica: 1, incarnation: 2, t: s(45) })
    expect(extraCalls(run)).toMatchObject({
      extra: [],
      calls: { classic: 5 },
      minimum: { classic: 5 },
    })
    run.tokenCalls.push({ ...check, at: s(52) }) // a second one for the same start
    expect(broken(run)).toEqual(['upstream'])
  })

  it('a secret check that had WeChat issue a stable token, got back by the next scheduled refresh: both calls are due', () => {
    const run = quietRun()
    const STABLE = APPS[1]!
    // Stable token 1 from s(0), expiring at s(300): its refresh is planned at s(60). A replica
    // starting at s(48) checks its secret at s(50), inside WeChat's renew window, and WeChat issues
    // token 2; the scheduled refresh at s(70) gets token 2 back and makes it generation 2.
    run.simTokens.stable = [
      { id: 'st1', issuedAt: s(0), expiresAt: s(300) },
      { id: 'st2', issuedAt: s(50) + 1, expiresAt: s(380) },
    ]
    const call = (at: number): SimCallLogEntry => ({
      method: 'POST',
      endpoint: STABLE.tokenApi,
      appid: STABLE.appid,
      errcode: 0,
      status: 200,
      at,
    })
    run.tokenCalls.push(call(s(0) - 1), call(s(50)), call(s(70)))
    run.generations.push(
      {
        ...run.generations[0]!,
        app: 'stable',
        generation: 1,
        tokenId: 'st1',
        obtainedAt: s(0),
        wechatExpiresAt: s(300),
      },
      {
        ...run.generations[0]!,
        app: 'stable',
        generation: 2,
        tokenId: 'st2',
        obtainedAt: s(70) + 5,
        wechatExpiresAt: s(380),
      }
    )
    run.replicaStarts.push({ replica: 1, incarnation: 2, t: s(48) })
    expect(extraCalls(run)).toMatchObject({
      extra: [],
      calls: { stable: 3 },
      minimum: { stable: 3 },
    })
    // Without the start, the check is a stray call and the refresh got the same token back.
    run.replicaStarts = []
    expect(extraCalls(run).extra.map((e) => `${e.app}: ${e.why}`)).toEqual([
      'stable: WeChat handed back the same token',
    ])
  })

  it("the driver's own token calls are not the broker's", () => {
    const run = quietRun()
    run.tokenCalls.push({ ...run.tokenCalls[1]!, at: s(70) })
    run.simTokens.classic.push({ id: 'foreign', issuedAt: s(70) + 1, expiresAt: s(130) })
    run.simTokens.classic.sort((a, b) => a.issuedAt - b.issuedAt)
    expect(broken(run)).toEqual(['upstream'])
    run.foreign.push({ app: 'classic', t: s(70), token: 'foreign' })
    expect(broken(run)).toEqual([])
  })

  it('a broker count below WeChat\'s breaks "quota", the driver\'s calls left out', () => {
    const run = quietRun()
    run.quota.push({ t: s(110), app: 'classic', wechat: 6, store: 5 })
    expect(broken(run)).toEqual(['quota'])
    run.foreign.push({ app: 'classic', t: s(105), token: undefined })
    expect(broken(run).filter((i) => i === 'quota')).toEqual([])
  })

  it('a count the store lost is "quota" unless the replicas put it back within 10 s', () => {
    const restored = quietRun()
    restored.quota.push(
      { t: s(110), app: 'classic', wechat: 6, store: 0 },
      { t: s(118), app: 'classic', wechat: 6, store: 0 },
      { t: s(119), app: 'classic', wechat: 6, store: 6 }
    )
    expect(broken(restored)).toEqual([])
    const slow = quietRun()
    slow.quota.push(
      { t: s(110), app: 'classic', wechat: 6, store: 0 },
      { t: s(121), app: 'classic', wechat: 6, store: 0 },
      { t: s(122), app: 'classic', wechat: 6, store: 6 }
    )
    expect(broken(slow)).toEqual(['quota'])
  })

  it('an exit nobody asked for, or a SIGTERM that does not exit 0, breaks "exits"', () => {
    const run = quietRun()
    const exit = { replica: 0, incarnation: 1, t: s(30), signal: null, stderrTail: 'boom' }
    run.replicaExits.push(
      { ...exit, code: 0, endedBy: 'term' },
      { ...exit, code: null, endedBy: 'kill' }
    )
    expect(broken(run)).toEqual([])
    run.replicaExits.push({ ...exit, code: 1, endedBy: 'term' })
    expect(broken(run)).toEqual(['exits'])
    const client = quietRun()
    client.clientExits[0]!.expected = false
    expect(broken(client)).toEqual(['exits'])
  })

  it('a recovery past the bound breaks "recovery"', () => {
    const run = quietRun()
    run.faults.push(fault(1, 'replica-kill', 10, 12))
    expect(broken(run)).toEqual([])
    run.faults[0]!.recoveredAt = s(12) + 25_000
    expect(broken(run)).toEqual(['recovery'])
    run.faults[0]!.recoveredAt = null
    expect(judge(run).violations[0]!.detail).toMatch(/not within 90 s/)
  })
})
