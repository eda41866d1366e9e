import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, spawnTracked } from '@wxbroker/testkit'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { runCommands } from '../src/dockerfile.js'
import { deployPath, repoRoot } from '../src/paths.js'
import { pollUntil } from '../src/poll.js'
import { TEST_APPS, TEST_KEYS, testBrokerConfig, testBrokerEnv } from '../src/running-broker.js'

// The production bundle the image copies, made with the Dockerfile's own commands, run with no
// workspace around it: `check-config` on every shipped config and `serve` against the simulator.

const dockerfile = deployPath('docker', 'Dockerfile')
const workDir = mkdtempSync(join(tmpdir(), 'wxbroker-bundle-'))
const bundle = join(workDir, 'bundle')
const bin = join(bundle, 'bin', 'wxbroker.js')

/** The build stage's RUN commands that make and check /bundle, pointed at the temporary bundle. */
const bundleCommands = runCommands(dockerfile, 'build')
  .filter((cmd) => cmd.includes('/bundle'))
  .map((cmd) => cmd.replaceAll('/bundle', bundle))

interface Run {
  status: number | null
  out: string
}

/** Runs the bundle's CLI outside the workspace: only PATH, NODE_ENV and the given variables. */
function wxbroker(args: string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [bin, ...args], {
    cwd: workDir,
    env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...env },
    encoding: 'utf8',
    timeout: 20_000,
  })
  return { status: r.status, out: r.stdout + r.stderr }
}

beforeAll(() => {
  expect(bundleCommands.join('\n')).toContain('pnpm --filter wxbroker deploy --legacy --prod')
  for (const cmd of bundleCommands) {
    const r = spawnSync('sh', ['-c', cmd], { cwd: repoRoot, encoding: 'utf8', timeout: 90_000 })
    if (r.status !== 0) {
      throw new Error(`Dockerfile step failed (${r.status}): ${cmd}\n${r.stdout}\n${r.stderr}`)
    }
  }
}, 120_000)

afterAll(() => {
  rmSync(workDir, { recursive: true, force: true })
})

/** Package names in a pnpm node_modules: top-level links and the virtual store's entries. */
function installedPackages(): Set<string> {
  const modules = join(bundle, 'node_modules')
  const names = new Set<string>()
  for (const entry of readdirSync(modules)) {
    if (entry === '.pnpm') continue
    if (entry.startsWith('@')) {
      for (const sub of readdirSync(join(modules, entry))) names.add(`${entry}/${sub}`)
    } else names.add(entry)
  }
  for (const entry of readdirSync(join(modules, '.pnpm'))) {
    // `name@version`, `@scope+name@version_peer...`
    const m = /^(@?[^@]+)@/.exec(entry)
    if (m?.[1]) names.add(m[1].replace('+', '/'))
  }
  return names
}

function envFile(path: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(line.trim())
    if (m?.[1] && m[2] !== undefined) env[m[1]] = m[2]
  }
  return env
}

describe('production bundle (the Dockerfile commands)', () => {
  it('holds bin, dist and production dependencies only', () => {
    expect(existsSync(join(bundle, 'dist', 'cli.js'))).toBe(true)
    expect(existsSync(bin)).toBe(true)
    for (const dir of ['src', 'test', 'bench'])
      expect(existsSync(join(bundle, dir)), dir).toBe(false)
    const packages = installedPackages()
    for (const dep of ['hono', 'ioredis', 'prom-client', 'pino'])
      expect(packages, dep).toContain(dep)
    const dev = [
      'vitest',
      'tsx',
      'typescript',
      'autocannon',
      '@wxbroker/testkit',
      '@wxbroker/wechat-sim',
    ]
    expect([...packages].filter((p) => dev.includes(p))).toEqual([])
  })

  it('check-config accepts the compose and both Kubernetes configs with their templates’ values', () => {
    const compose = envFile(deployPath('compose', '.env.example'))
    const secret = parse(
      readFileSync(deployPath('k8s', 'overlays', 'example', 'secret.yaml'), 'utf8')
    ) as { stringData: Record<string, string> }
    const cases: [string, Record<string, string>][] = [
      [deployPath('compose', 'wxbroker.yaml'), compose],
      // The base reads REDIS_URL, which the example overlay's Secret leaves out (its config
      // names the quorum nodes itself).
      [
        deployPath('k8s', 'base', 'wxbroker.yaml'),
        { ...secret.stringData, REDIS_URL: 'redis://redis:6379/0' },
      ],
      [deployPath('k8s', 'overlays', 'example', 'wxbroker.yaml'), secret.stringData],
    ]
    for (const [file, env] of cases) {
      const run = wxbroker(['check-config', '--config', file], env)
      expect(run.out.toLowerCase(), file).toContain(`config ok: ${file.toLowerCase()}`)
      expect(run.status, file).toBe(0)
    }
    const missing = wxbroker(['check-config', '--config', deployPath('compose', 'wxbroker.yaml')])
    expect(missing.status).toBe(1)
    expect(missing.out).toContain('WX_APP_SECRET, which is not set')
  })

  it('serve runs from the bundle and hands out a token from the simulator', async () => {
    const sim: Simulator = await startSimulator({
      apps: TEST_APPS.map((a) => ({ appid: a.appid, secret: a.secret })),
    })
    const port = await freePort()
    const configFile = join(workDir, 'serve.yaml')
    writeFileSync(configFile, testBrokerConfig(sim.url).replace('port: 0', `port: ${port}`))
    const proc = spawnTracked(process.execPath, [bin, 'serve', '--config', configFile], {
      cwd: workDir,
      env: { PATH: process.env.PATH ?? '', NODE_ENV: 'production', ...testBrokerEnv() },
    })
    let logs = ''
    proc.child.stdout?.on('data', (c: Buffer) => (logs += c.toString()))
    proc.child.stderr?.on('data', (c: Buffer) => (logs += c.toString()))
    const url = `http://127.0.0.1:${port}`
    try {
      const healthz = (): Promise<number> =>
        fetch(`${url}/healthz`).then(
          (r) => r.status,
          () => 0
        )
      expect(await pollUntil(healthz, (s) => s === 200, 15_000, 100), logs).toBe(200)
      const app = TEST_APPS[0] as (typeof TEST_APPS)[number]
      const res = await fetch(`${url}/v1/apps/${app.appid}/token`, {
        headers: { authorization: `Bearer ${TEST_KEYS.client}` },
      })
      expect(res.status, logs).toBe(200)
      const { access_token } = (await res.json()) as { access_token: string }
      expect(access_token).toBe((await sim.admin.tokens(app.appid, app.kind)).current)
      expect(await proc.stop('SIGTERM')).toBe(0)
    } finally {
      await proc.stop('SIGKILL')
      await sim.close()
    }
  })
})
