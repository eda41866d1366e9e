import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, isAbsolute, join, resolve } from 'node:path'
import { parse, stringify } from 'yaml'
import { freePort, spawnTracked, type TrackedProcess } from '@wxbroker/testkit'
import { pollUntil } from './poll.js'

// A real Prometheus (Debian's `prometheus` package) for end-to-end checks: the shipped scrape
// config with only its targets and intervals replaced, on a free port with throwaway storage.

export interface PrometheusConfig {
  global?: { scrape_interval?: string; evaluation_interval?: string; [k: string]: unknown }
  rule_files?: string[]
  scrape_configs: {
    job_name: string
    scrape_interval?: string
    static_configs?: { targets: string[]; labels?: Record<string, string> }[]
    [k: string]: unknown
  }[]
  [k: string]: unknown
}

export interface Retarget {
  /** The scrape job to point elsewhere. */
  job: string
  targets: string[]
  /** Scrape and rule evaluation interval, e.g. '1s'. */
  interval: string
}

/**
 * The shipped config pointed at other targets: the job's static targets and the global intervals
 * are replaced; rule files are made absolute (relative to the shipped file), so the config works
 * from anywhere. Nothing else changes.
 */
export function retargetConfig(shippedPath: string, change: Retarget): PrometheusConfig {
  const config = parse(readFileSync(shippedPath, 'utf8')) as PrometheusConfig
  const job = config.scrape_configs.find((j) => j.job_name === change.job)
  if (!job) throw new Error(`${shippedPath} has no scrape job ${change.job}`)
  if (!job.static_configs?.length) throw new Error(`job ${change.job} has no static_configs`)
  job.static_configs = job.static_configs.map((s) => ({ ...s, targets: change.targets }))
  if (job.scrape_interval !== undefined) job.scrape_interval = change.interval
  config.global = {
    ...config.global,
    scrape_interval: change.interval,
    evaluation_interval: change.interval,
  }
  config.rule_files = config.rule_files?.map((f) =>
    isAbsolute(f) ? f : resolve(dirname(shippedPath), f)
  )
  return config
}

export interface PrometheusServer {
  url: string
  /** GET /api/v1/<path> and return `data`; throws unless the status is success. */
  api<T>(path: string, params?: Record<string, string>): Promise<T>
  stop(): Promise<void>
}

export interface VectorSample {
  metric: Record<string, string>
  value: [number, string]
}

async function waitUntilReady(
  url: string,
  proc: TrackedProcess,
  logs: () => string
): Promise<void> {
  let exited = false
  void proc.exited.then(() => (exited = true))
  const probe = async (): Promise<'ready' | 'exited' | 'waiting'> => {
    if (exited) return 'exited'
    try {
      return (await fetch(`${url}/-/ready`)).status === 200 ? 'ready' : 'waiting'
    } catch {
      return 'waiting' // not listening yet
    }
  }
  const state = await pollUntil(probe, (s) => s !== 'waiting', 20_000, 100)
  if (state === 'exited') throw new Error(`prometheus exited before it was ready:\n${logs()}`)
  if (state === 'waiting') throw new Error(`prometheus not ready within 20 s:\n${logs()}`)
}

/** Starts `prometheus` with the config on a free port; retries when the port was taken meanwhile. */
export async function startPrometheus(
  binary: string,
  config: PrometheusConfig
): Promise<PrometheusServer> {
  const dir = mkdtempSync(join(tmpdir(), 'wxbroker-prometheus-'))
  const configFile = join(dir, 'prometheus.yml')
  writeFileSync(configFile, stringify(config))
  for (let attempt = 1; ; attempt++) {
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const proc = spawnTracked(binary, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, `data-${attempt}`)}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ])
    let logs = ''
    proc.child.stderr?.on('data', (chunk: Buffer) => (logs += chunk.toString()))
    try {
      await waitUntilReady(url, proc, () => logs)
    } catch (e) {
      await proc.stop('SIGKILL')
      if (attempt < 3 && logs.includes('address already in use')) continue
      rmSync(dir, { recursive: true, force: true })
      throw e
    }
    return {
      url,
      async api<T>(path: string, params: Record<string, string> = {}): Promise<T> {
        const res = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params).toString()}`)
        const body = (await res.json()) as { status: string; data: T; error?: string }
        if (body.status !== 'success') throw new Error(`prometheus ${path}: ${body.error}`)
        return body.data
      },
      async stop() {
        await proc.stop('SIGTERM')
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
}

/** Polls an instant query until it returns a non-empty vector (the first scrape has landed). */
export async function waitForVector(
  prom: PrometheusServer,
  query: string,
  timeoutMs = 15_000
): Promise<VectorSample[]> {
  const read = async () => (await prom.api<{ result: VectorSample[] }>('query', { query })).result
  const result = await pollUntil(read, (r) => r.length > 0, timeoutMs)
  if (result.length === 0) throw new Error(`no result for ${query} within ${timeoutMs} ms`)
  return result
}
