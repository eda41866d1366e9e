/**
 * Benchmark (a script, not a test): `pnpm --filter @wxbroker/client bench`.
 * 1. Cached BrokerTokenProvider.getToken() ops/s (after one fetch from a real broker).
 * 2. A MiniProgramClient call against a raw fetch of the same simulator endpoint: mean and p50/p99
 *    latency, sequential and interleaved, after a warm-up.
 * Prints a markdown table and writes it into docs/benchmarks.md.
 */
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { machine, writeBenchmarkSection } from '@wxbroker/testkit'
import { BrokerTokenProvider, MiniProgramClient } from '../src/index.js'
import { API_KEY, APPID, startSim } from '../test/helpers/fixtures.js'
import { startRealBroker } from '../test/helpers/real-broker.js'

const DOCS = fileURLToPath(new URL('../../../docs/benchmarks.md', import.meta.url))

const TOKEN_OPS = 2_000_000
const CALLS = Number(process.env.BENCH_CALLS ?? 2000)

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!
}

/** Times `a` and `b` alternately after a warm-up, so drift (JIT, GC, the server) hits both alike. */
async function timeBoth(
  n: number,
  a: () => Promise<unknown>,
  b: () => Promise<unknown>
): Promise<[number[], number[]]> {
  for (let i = 0; i < 500; i++) {
    await a()
    await b()
  }
  const samples: [number[], number[]] = [[], []]
  for (let i = 0; i < n; i++) {
    for (const [k, fn] of [a, b].entries()) {
      const start = performance.now()
      await fn()
      samples[k]!.push(performance.now() - start)
    }
  }
  return [samples[0].sort((x, y) => x - y), samples[1].sort((x, y) => x - y)]
}

function row(name: string, samples: number[]): string {
  const mean = samples.reduce((a, b) => a + b, 0) / samples.length
  const fmt = (ms: number): string => `${(ms * 1000).toFixed(0)} µs`
  return `| ${name} | ${fmt(mean)} | ${fmt(percentile(samples, 50))} | ${fmt(percentile(samples, 99))} |`
}

const sim = await startSim()
const broker = await startRealBroker({ wechatUrl: sim.url })
try {
  const tokens = new BrokerTokenProvider({
    baseUrl: broker.url,
    apiKey: API_KEY,
    appid: APPID,
  })
  await tokens.getToken()
  const start = performance.now()
  for (let i = 0; i < TOKEN_OPS; i++) await tokens.getToken()
  const seconds = (performance.now() - start) / 1000
  const opsPerSecond = TOKEN_OPS / seconds

  const client = new MiniProgramClient({
    appid: APPID,
    tokens,
    baseUrl: sim.url,
  })
  const body = JSON.stringify({ cgi_path: '/cgi-bin/token' })
  const current = await tokens.getToken()
  const [raw, wrapped] = await timeBoth(
    CALLS,
    async () => {
      const url = `${sim.url}/cgi-bin/openapi/quota/get?access_token=${current}`
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
      await response.json()
    },
    () => client.openApi.getApiQuota('/cgi-bin/token')
  )
  const overhead =
    wrapped.reduce((a, b) => a + b, 0) / CALLS - raw.reduce((a, b) => a + b, 0) / CALLS

  const markdown = [
    '## Client',
    '',
    `Command: \`pnpm --filter @wxbroker/client bench\` — ${machine()}; the token comes from a real \`wxbroker serve\`, WeChat is the simulator. ${TOKEN_OPS.toLocaleString('en-US')} cached \`getToken()\` calls; ${CALLS} sequential calls of each kind, interleaved, after a warm-up.`,
    '',
    '| measure | value |',
    '| --- | --- |',
    `| cached \`getToken()\` | ${Math.round(opsPerSecond).toLocaleString('en-US')} ops/s |`,
    `| wrapped call overhead (mean of differences) | ${(overhead * 1000).toFixed(0)} µs |`,
    '',
    '| call (POST /cgi-bin/openapi/quota/get on the simulator) | mean | p50 | p99 |',
    '| --- | --- | --- | --- |',
    row('raw `fetch` (baseline)', raw),
    row('`client.openApi.getApiQuota()`', wrapped),
  ].join('\n')
  console.log(markdown)
  writeBenchmarkSection(DOCS, 'client', markdown)
} finally {
  await broker.process.proc.stop('SIGTERM')
  await sim.close()
}
