// pnpm --filter wxbroker bench:engine
// 1. The in-memory read path (ops/s) against a baseline measured in the same run.
// 2. Upstream token calls per simulated day for 3 replicas under load (virtual clocks), against the
//    minimum ceil(86400 / (7200 - lead)) per token kind.
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { machine, startRedis, table, writeBenchmarkSection } from '@wxbroker/testkit'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { createEngine, type TokenEngine, type TokenKind } from '../src/engine/index.js'
import { ManualClock } from '../test/engine/manual-clock.js'

const DOCS = fileURLToPath(new URL('../../../docs/benchmarks.md', import.meta.url))
const APPID = 'wx00000000000be0c1'
const SECRET = 'bench-secret'
const LEAD = 600

async function readPath(sim: Simulator): Promise<string[][]> {
  const engine = createEngine({
    apps: [
      {
        appid: APPID,
        secret: SECRET,
        tokenKind: 'classic',
        refreshLeadSeconds: LEAD,
        dailyQuota: 2000,
        quotaWarnRatio: 0.8,
        invalidateCooldownSeconds: 30,
        scheduledReserve: 200,
        reportRefreshDailyLimit: 100,
        clientReportRefreshDailyLimit: 20,
        foreignCheckSeconds: 0,
      },
    ],
    store: { kind: 'memory' },
    wechat: { baseUrl: sim.url, fallbackBaseUrls: [], timeoutMs: 5000 },
    tuning: { reconcileQuota: false },
  })
  await engine.start()
  await engine.getToken(APPID)
  const n = 2_000_000
  const constant = { appid: APPID, accessToken: 'x', expiresIn: 1 }
  const measure = async (fn: () => Promise<unknown>): Promise<number> => {
    for (let i = 0; i < 10_000; i++) await fn() // warm-up
    const started = performance.now()
    for (let i = 0; i < n; i++) await fn()
    return n / ((performance.now() - started) / 1000)
  }
  const baseline = await measure(() => Promise.resolve(constant))
  const engineOps = await measure(() => engine.getToken(APPID))
  await engine.stop()
  return [
    ['baseline: `await Promise.resolve(constant)`', fmt(baseline), '1.00'],
    [
      '`engine.getToken()` (in memory, token cached)',
      fmt(engineOps),
      (engineOps / baseline).toFixed(2),
    ],
  ]
}

async function simulatedDay(sim: Simulator, redisUrl: string, kind: TokenKind): Promise<string[]> {
  const appid =
    `wx${kind === 'stable' ? 'aa' : 'bb'}${Date.now().toString(16).padStart(14, '0')}`.slice(0, 18)
  const start = Date.now()
  await sim.admin.setClock(start)
  await sim.admin.registerApp({ appid, secret: SECRET })
  const clock = new ManualClock(start)
  const engines: TokenEngine[] = Array.from({ length: 3 }, () =>
    createEngine({
      apps: [
        {
          appid,
          secret: SECRET,
          tokenKind: kind,
          refreshLeadSeconds: LEAD,
          dailyQuota: 2000,
          quotaWarnRatio: 0.8,
          invalidateCooldownSeconds: 30,
          scheduledReserve: 200,
          reportRefreshDailyLimit: 100,
          clientReportRefreshDailyLimit: 20,
          foreignCheckSeconds: 0,
        },
      ],
      store: { kind: 'redis', nodes: [redisUrl], keyPrefix: `bench-${kind}-${start}` },
      wechat: { baseUrl: sim.url, fallbackBaseUrls: [], timeoutMs: 5000 },
      clock,
      tuning: { reconcileQuota: false, maxJitterSeconds: 30 },
    })
  )
  await Promise.all(engines.map((e) => e.start()))
  const endpoint = kind === 'stable' ? '/cgi-bin/stable_token' : '/cgi-bin/token'
  const before = ((await sim.admin.calls()) as Record<string, number>)[endpoint] ?? 0
  const step = 10_000
  let reads = 0
  for (let t = 0; t < 86_400_000; t += step) {
    await sim.admin.advanceClock(step)
    clock.advance(step)
    // Readers on every replica under load while time passes.
    await Promise.all(engines.flatMap((e) => Array.from({ length: 20 }, () => e.getToken(appid))))
    reads += engines.length * 20
    await new Promise((r) => setImmediate(r))
  }
  await new Promise((r) => setTimeout(r, 200))
  const upstream = (((await sim.admin.calls()) as Record<string, number>)[endpoint] ?? 0) - before
  await Promise.all(engines.map((e) => e.stop()))
  const minimum = Math.ceil(86_400 / (7200 - (kind === 'stable' ? 240 : LEAD)))
  return [kind, '3', String(reads), String(upstream), String(minimum)]
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

const sim = await startSimulator({ apps: [{ appid: APPID, secret: SECRET }] })
const redis = await startRedis()
try {
  const reads = await readPath(sim)
  const days = [
    await simulatedDay(sim, redis.url, 'classic'),
    await simulatedDay(sim, redis.url, 'stable'),
  ]
  const markdown = [
    '## Token engine',
    '',
    `Command: \`pnpm --filter wxbroker bench:engine\` — ${machine()}, ${cpus().length} cores.`,
    '',
    'In-memory read path (one process, token cached), against a baseline measured in the same run:',
    '',
    table(['operation', 'ops/s', 'ratio'], reads),
    '',
    `Upstream token calls over one simulated day (virtual clocks; simulator and engines advanced in 10 s steps, 20 reads per replica per step), refresh lead ${LEAD} s. The reference is ceil(86400 / (7200 − lead)); stable tokens rotate inside WeChat's last 300 s, so their effective lead is 240 s. A day starting with a fetch sees floor(86400 / period) + 1 fetches, which can be one below the ceiling; more calls than the reference would mean replicas refreshed on their own:`,
    '',
    table(['kind', 'replicas', 'reads', 'upstream calls', 'ceil(86400 / (7200 − lead))'], days),
  ].join('\n')
  console.log(markdown)
  writeBenchmarkSection(DOCS, 'engine', markdown)
} finally {
  await sim.close()
  await redis.stopAll()
}
