import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'

// Every process a test starts is tracked here, so that none outlives the test run: they are killed
// when the test process exits, and a detached watchdog kills each one if the test process dies
// without running exit handlers (SIGKILL, a worker torn down on timeout).
const tracked = new Set<ChildProcess>()
let exitHookInstalled = false

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.once('exit', () => {
    for (const child of tracked) child.kill('SIGKILL')
  })
}

function startWatchdog(pid: number): ChildProcess {
  const script = `while kill -0 ${process.pid} 2>/dev/null && kill -0 ${pid} 2>/dev/null; do sleep 1; done; kill -9 ${pid} 2>/dev/null`
  const watchdog = spawn('sh', ['-c', script], { stdio: 'ignore', detached: true })
  watchdog.unref()
  return watchdog
}

export interface TrackedProcess {
  child: ChildProcess
  /** Resolves with the exit code (or null when killed by a signal) once the process has exited. */
  exited: Promise<number | null>
  /** Sends a signal (default SIGTERM) and waits for exit; SIGKILL after `graceMs`. */
  stop(signal?: NodeJS.Signals, graceMs?: number): Promise<number | null>
}

export function spawnTracked(
  command: string,
  args: string[],
  options: SpawnOptions = {}
): TrackedProcess {
  installExitHook()
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
  tracked.add(child)
  const watchdog = child.pid === undefined ? undefined : startWatchdog(child.pid)
  const exited = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => {
      tracked.delete(child)
      watchdog?.kill('SIGKILL')
      resolve(code)
    })
  })
  exited.catch(() => undefined)
  const stop = async (
    signal: NodeJS.Signals = 'SIGTERM',
    graceMs = 5000
  ): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
    try {
      return await exited
    } finally {
      clearTimeout(timer)
    }
  }
  return { child, exited, stop }
}
