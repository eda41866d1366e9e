import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnTracked, type TrackedProcess } from './processes.js'

// Tests of other packages (the client, deploy) start the real daemon as a black box through its
// CLI, so they share only the wire contract with it, never its code.
export const BROKER_BIN = fileURLToPath(new URL('../../broker/bin/wxbroker.js', import.meta.url))

/** A `wxbroker <command>` child process with its stdout split into lines. */
export interface BrokerProcess {
  proc: TrackedProcess
  stdout: string[]
  stderr: () => string
  /** Resolves with the first stdout line matching, or rejects when the process exits first. */
  waitForLine(match: (line: string) => boolean, timeoutMs?: number): Promise<string>
}

export function spawnBroker(args: string[], env: Record<string, string> = {}): BrokerProcess {
  const proc = spawnTracked(process.execPath, [BROKER_BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const stdout: string[] = []
  let partial = ''
  let err = ''
  const waiters = new Set<() => void>()
  proc.child.stdout?.on('data', (chunk: Buffer) => {
    partial += chunk.toString()
    const lines = partial.split('\n')
    partial = lines.pop() ?? ''
    stdout.push(...lines)
    for (const w of waiters) w()
  })
  proc.child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString()
  })
  const waitForLine = (match: (line: string) => boolean, timeoutMs = 15_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = stdout.find(match)
        if (found !== undefined) {
          cleanup()
          resolve(found)
        }
      }
      const timer = setTimeout(() => {
        cleanup()
        reject(
          new Error(
            `no matching line within ${timeoutMs} ms; stdout:\n${stdout.join('\n')}\nstderr:\n${err}`
          )
        )
      }, timeoutMs)
      const cleanup = (): void => {
        clearTimeout(timer)
        waiters.delete(check)
      }
      waiters.add(check)
      proc.exited.then(
        (code) => {
          cleanup()
          reject(
            new Error(
              `wxbroker exited (${code}) first; stdout:\n${stdout.join('\n')}\nstderr:\n${err}`
            )
          )
        },
        () => undefined
      )
      check()
    })
  return { proc, stdout, stderr: () => err, waitForLine }
}

/** Writes a config file in a fresh temporary directory and returns its path. */
export function writeConfig(configYaml: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'wxb-serve-')), 'wxbroker.yaml')
  writeFileSync(file, configYaml)
  return file
}

/**
 * Starts `wxbroker serve` with a config file and waits for its "listening" log line. `config` is
 * the file's path (its directory is the caller's to remove).
 */
export async function serveBroker(
  configYaml: string,
  env: Record<string, string> = {}
): Promise<BrokerProcess & { url: string; config: string }> {
  const config = writeConfig(configYaml)
  const broker = spawnBroker(['serve', '--config', config], env)
  const line = await broker.waitForLine((l) => l.includes('"msg":"wxbroker listening"'))
  const { url } = JSON.parse(line) as { url: string }
  return { ...broker, url, config }
}
