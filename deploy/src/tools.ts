import { execFileSync, spawnSync } from 'node:child_process'

// External command-line tools the checks run (promtool, docker-compose, kustomize).

export function findTool(name: string): string | undefined {
  const found = spawnSync('sh', ['-c', `command -v "$1"`, 'sh', name], { encoding: 'utf8' })
  const path = found.stdout.trim()
  return found.status === 0 && path !== '' ? path : undefined
}

/** The tool's path, or an error that says how to install it. */
export function requireTool(name: string, installHint: string): string {
  const path = findTool(name)
  if (!path) throw new Error(`${name} is not on PATH; install it: ${installHint}`)
  return path
}

export interface ToolRun {
  status: number | null
  stdout: string
  stderr: string
}

export function runTool(path: string, args: readonly string[], cwd?: string): ToolRun {
  const r = spawnSync(path, args, { cwd, encoding: 'utf8', timeout: 60_000 })
  if (r.error) throw r.error
  return { status: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** A kustomize implementation: `kustomize build DIR`, or `kubectl kustomize DIR`. */
export function findKustomize(): ((dir: string) => string) | undefined {
  const kustomize = findTool('kustomize')
  if (kustomize) return (dir) => execFileSync(kustomize, ['build', dir], { encoding: 'utf8' })
  const kubectl = findTool('kubectl')
  if (kubectl && spawnSync(kubectl, ['kustomize', '--help'], { encoding: 'utf8' }).status === 0) {
    return (dir) => execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8' })
  }
  return undefined
}

export const INSTALL_HINTS = {
  promtool: 'apt-get install prometheus (Debian ships promtool in it)',
  prometheus: 'apt-get install prometheus (Debian; .ci/run installs it)',
  chromium: 'apt-get install chromium (Debian; .ci/run installs it; never a downloaded browser)',
  dockerCompose: 'apt-get install docker-compose (its `config` needs no engine)',
} as const
