/**
 * Benchmark (a script, not a test): `pnpm --filter @wxbroker/client bench`.
 * 1. Cached BrokerTokenProvider.getToken() ops/s (after one fetch from the broker stub).
 * 2. A MiniProgramClient call against a raw fetch of the same simulator endpoint: mean and p50/p99
 *    latency, sequential and interleaved, after a warm-up. Prints a markdown table.
 */
import { performance } from 'node:perf_hooks'
import { BrokerTokenProvider, MiniProgramClient } from '../src/index.js'
import { API_KEY, APPID, startSim, startStub } from '../test/helpers/fixtures.js'

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
const stub = await startStub(sim)
try {
  const tokens = new BrokerTokenProvider({
    baseUrl: stub.url,
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

  console.log(
    `Node ${process.version}, ${TOKEN_OPS} cached getToken() calls, ${CALLS} sequential calls each\n`
  )
  console.log('| measure | value |')
  console.log('|---|---|')
  console.log(
    `| cached \`getToken()\` | ${Math.round(opsPerSecond).toLocaleString('en-US')} ops/s |`
  )
  console.log(
    `| wrapped call overhead (mean of differences) | ${(overhead * 1000).toFixed(0)} µs |`
  )
  console.log('')
  console.log('| call (POST /cgi-bin/openapi/quota/get on the simulator) | mean | p50 | p99 |')
  console.log('|---|---|---|---|')
  console.log(row('raw `fetch`', raw))
  console.log(row('`client.openApi.getApiQuota()`', wrapped))
} finally {
  await stub.close()
  await sim.close()
}
