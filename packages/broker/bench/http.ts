// pnpm bench (root) → pnpm --filter wxbroker bench:http
// Token GET through the broker (real engine, in-memory store, bearer auth, access log, metrics)
// against a bare Hono server returning constant JSON, same machine, same run, with autocannon.
// Both servers run as their own processes; the load generator runs here.
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import autocannon from 'autocannon'
import {
  answersOk,
  machine,
  startServerProcess,
  table,
  writeBenchmarkSection,
  type ServerProcess,
} from '@wxbroker/testkit'
import { startSimulator } from '@wxbroker/wechat-sim'

const DOCS = fileURLToPath(new URL('../../../docs/benchmarks.md', import.meta.url))
const BIN = fileURLToPath(new URL('../bin/wxbroker.js', import.meta.url))
const BARE = fileURLToPath(new URL('./bare-server.ts', import.meta.url))
const APPID = 'wx00000000000be0c1'
const KEY = 'bench-client-key-000000000000000'
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const DURATION = Number(process.env.BENCH_SECONDS ?? 8)
const WARMUP = 3
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)

const children: ServerProcess[] = []

/** Starts a server process (its access log goes to /dev/null) and keeps it for the clean-up. */
async function start(
  args: string[],
  readyPath: string,
  env: Record<string, string> = {}
): Promise<ServerProcess> {
  const server = await startServerProcess(args, answersOk(readyPath), env)
  children.push(server)
  return server
}

async function load(url: string, seconds: number): Promise<autocannon.Result> {
  const result = await autocannon({
    url: `${url}/v1/apps/${APPID}/token`,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { authorization: `Bearer ${KEY}` },
  })
  if (result.non2xx > 0 || result.errors > 0) {
    throw new Error(`${url}: ${result.non2xx} non-2xx responses, ${result.errors} errors`)
  }
  return result
}

async function rssMiB(brokerUrl: string): Promise<number> {
  const text = await (await fetch(`${brokerUrl}/metrics`)).text()
  const m = /^process_resident_memory_bytes (\d+)/m.exec(text)
  return m?.[1] ? Number(m[1]) / 2 ** 20 : NaN
}

async function main(): Promise<void> {
  const sim = await startSimulator({ apps: [{ appid: APPID, secret: 'bench-secret' }] })
  const dir = mkdtempSync(join(tmpdir(), 'wxb-bench-'))
  const config = join(dir, 'wxbroker.yaml')
  writeFileSync(
    config,
    [
      'listen: { host: 127.0.0.1, port: 0 }',
      `wechat: { baseUrl: "${sim.url}" }`,
      `apps: [{ appid: ${APPID}, secret: bench-secret }]`,
      'clients:',
      `  - { name: bench, keySha256: ${createHash('sha256').update(KEY).digest('hex')}, apps: ["*"], scopes: [token:read] }`,
    ].join('\n')
  )
  try {
    await measure(config)
  } finally {
    await Promise.all(children.map((c) => c.proc.stop()))
    await sim.close()
  }
}

async function measure(config: string): Promise<void> {
  const brokerArgs = [BIN, 'serve', '--config', config]
  const broker = { name: 'wxbroker token GET', ...(await start(brokerArgs, '/readyz')) }
  const quiet = {
    name: 'wxbroker, no access log (log.level warn)',
    ...(await start(brokerArgs, '/readyz', { WXBROKER_LOG_LEVEL: 'warn' })),
  }
  // The baseline sends the same bytes the broker does.
  const sample = await fetch(`${broker.url}/v1/apps/${APPID}/token`, {
    headers: { authorization: `Bearer ${KEY}` },
  })
  const bare = {
    name: 'bare Hono (constant JSON)',
    ...(await start(['--import', 'tsx', BARE], `/v1/apps/${APPID}/token`, {
      BARE_BODY: await sample.text(),
    })),
  }
  const servers = [bare, broker, quiet]
  for (const s of servers) await load(s.url, WARMUP)
  // Rounds rotate the order; the best round of each server decides: this machine is shared, and
  // a burst of someone else's work should not decide the ratio. The median shows the spread.
  const runs = new Map<string, autocannon.Result[]>(servers.map((s) => [s.name, []]))
  for (let round = 0; round < ROUNDS; round++) {
    const order = [
      ...servers.slice(round % servers.length),
      ...servers.slice(0, round % servers.length),
    ]
    for (const s of order) runs.get(s.name)?.push(await load(s.url, DURATION))
  }
  const byThroughput = (name: string): autocannon.Result[] =>
    [...(runs.get(name) ?? [])].sort((x, y) => y.requests.average - x.requests.average)
  const best = (name: string): autocannon.Result => byThroughput(name)[0] as autocannon.Result
  const median = (name: string): number => {
    const sorted = byThroughput(name)
    return sorted[Math.floor(sorted.length / 2)]?.requests.average ?? NaN
  }
  const b = best(bare.name)
  const w = best(broker.name)
  const rss = await rssMiB(broker.url)
  const ratio = w.requests.average / b.requests.average
  const p99Ratio = w.latency.p99 / b.latency.p99
  const rows = servers.map((s) => {
    const r = best(s.name)
    return [
      s.name,
      Math.round(r.requests.average),
      Math.round(median(s.name)),
      r.latency.p50,
      r.latency.p99,
      (r.requests.average / b.requests.average).toFixed(2),
      (r.latency.p99 / b.latency.p99).toFixed(2),
    ]
  })
  const verdict = `${ratio >= 0.9 ? 'meets' : 'misses'} the ≥ 0.9× throughput target; p99 ${p99Ratio <= 1.2 ? 'meets' : 'misses'} the ≤ 1.2× target`
  const md = [
    '## HTTP: token GET through the broker vs a bare Hono server',
    '',
    '`pnpm bench` (runs `pnpm --filter wxbroker bench:http`, source `packages/broker/bench/http.ts`).',
    `autocannon, ${CONNECTIONS} connections, ${DURATION} s runs after a ${WARMUP} s warm-up each, ${ROUNDS} alternating`,
    'rounds; the best round of each server decides, the median shows the spread. Both servers are single Node processes on 127.0.0.1 and',
    'the load generator is a third (autocannon reports latency in whole milliseconds). The broker runs',
    '`wxbroker serve` with the real engine on the in-memory store, bearer auth, the JSON access log (one',
    'line per request) and metrics on; the baseline is Hono on @hono/node-server sending the same bytes',
    "(the broker's own answer) as a constant.",
    '',
    table(
      ['server', 'req/s (best)', 'req/s (median)', 'p50 ms', 'p99 ms', 'throughput ×', 'p99 ×'],
      rows
    ),
    '',
    `Broker RSS after the run: ${rss.toFixed(0)} MiB (the workspace binary runs from source through`,
    `tsx, which stays loaded). Result: ${verdict}.`,
    '',
    `Per request: the bare server ${(1e6 / b.requests.average).toFixed(1)} µs, the broker ${(1e6 / w.requests.average).toFixed(1)} µs of one core (the`,
    "rest of each request is the kernel and Node's HTTP parser, the same for both).",
    '',
    'How: the token GET is answered by a hot path in front of Hono on the same server',
    '(`src/http/token-fast-path.ts`). It answers only the plain success case: a GET of exactly',
    '`/v1/apps/{appid}/token` by a known key with `token:read` for that app, while the engine holds a',
    'token it can serve at once. Everything else, every error included, goes to the Hono route, which',
    'stays the contract; `test/http/token-fast-path.test.ts` checks that both give the same answer,',
    'access line and metrics. What it does per request: a regex on the path; a map lookup of the key',
    '(keys that matched before; an unknown key is always hashed and compared in constant time); the',
    "engine's in-memory token and a body serialized once per second; a request id; two counters and a",
    'histogram bucket; one access line, formatted by hand and written in 16 KiB batches. Each replaced',
    'something measured on this path (where it stood at 0.36× before): Hono routing, zod validation and',
    'the middleware chain; SHA-256 of the key (0.6–1 µs); prom-client hashing the labels on every update',
    "(0.9 µs for three); pino's generic serializer (3.3 µs a line, against 0.15 µs); SonicBoom's own",
    'batching, which re-measures its growing buffer on every line (about 2 µs a line at this rate).',
    '',
    `Machine: ${machine()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}; ${new Date().toISOString().slice(0, 10)}.`,
  ].join('\n')
  writeBenchmarkSection(DOCS, 'http', md)
  process.stdout.write(`${md}\n`)
}

await main()
