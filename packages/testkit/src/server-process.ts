import { freePort } from './ports.js'
import { spawnTracked, type TrackedProcess } from './processes.js'

// The benchmarks run each server under test in its own Node process, with its stdout (an access
// log, say) sent to /dev/null so that the process measuring spends no CPU reading it.

export interface ServerProcess {
  proc: TrackedProcess
  url: string
  port: number
}

/**
 * Starts `node <args>` with PORT and WXBROKER_LISTEN_PORT set to a free port (or `env`'s own PORT)
 * and waits until `ready(url)` resolves true (polled every 100 ms, up to 20 s).
 */
export async function startServerProcess(
  args: string[],
  ready: (url: string) => Promise<boolean>,
  env: Record<string, string> = {}
): Promise<ServerProcess> {
  const port = env.PORT === undefined ? await freePort() : Number(env.PORT)
  const proc = spawnTracked(process.execPath, args, {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, PORT: String(port), WXBROKER_LISTEN_PORT: String(port), ...env },
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) {
      throw new Error(`${args.join(' ')} exited with ${proc.child.exitCode}`)
    }
    if (await ready(url).catch(() => false)) return { proc, url, port }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  await proc.stop('SIGKILL')
  throw new Error(`${args.join(' ')} did not become ready on ${url}`)
}

/** A readiness check: `path` answers 2xx. */
export function answersOk(path: string): (url: string) => Promise<boolean> {
  return async (url) => (await fetch(`${url}${path}`)).ok
}
