import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse } from 'yaml'
import { beforeAll, describe, expect, it } from 'vitest'
import { deployPath } from '../src/paths.js'
import { INSTALL_HINTS, requireTool, runTool } from '../src/tools.js'

interface Service {
  image?: string
  read_only?: boolean
  user?: string
  cap_drop?: string[]
  tmpfs?: string[]
  ports?: string[]
  volumes?: string[]
  environment?: Record<string, string>
  depends_on?: Record<string, { condition: string }>
}

const composeDir = deployPath('compose')
let compose: (args: string[]) => ReturnType<typeof runTool>

beforeAll(() => {
  const tool = requireTool('docker-compose', INSTALL_HINTS.dockerCompose)
  compose = (args) => runTool(tool, ['-f', 'compose.yaml', ...args], composeDir)
})

describe('compose stack', () => {
  it('docker-compose config accepts it with .env.example, and refuses it without the secrets', () => {
    const ok = compose(['--env-file', '.env.example', 'config', '-q'])
    expect(ok.status, ok.stderr).toBe(0)
    const dir = mkdtempSync(join(tmpdir(), 'wxbroker-compose-'))
    writeFileSync(join(dir, 'empty.env'), '')
    const missing = compose(['--env-file', join(dir, 'empty.env'), 'config', '-q'])
    rmSync(dir, { recursive: true, force: true })
    expect(missing.status).not.toBe(0)
    expect(missing.stderr).toContain('set WX_APPID in .env')
  })

  it('runs two hardened broker replicas on Redis, scraped by Prometheus, shown by Grafana', () => {
    const run = compose(['--env-file', '.env.example', 'config'])
    const resolved = parse(run.stdout) as { services: Record<string, Service> }
    const { services } = resolved
    const brokers = Object.keys(services).filter((name) => name.startsWith('broker-'))
    expect(brokers).toEqual(['broker-1', 'broker-2'])
    for (const name of brokers) {
      const broker = services[name] as Service
      expect(broker).toMatchObject({
        read_only: true,
        user: '10001:10001',
        cap_drop: ['ALL'],
        tmpfs: ['/tmp'],
      })
      expect(broker.depends_on?.redis?.condition).toBe('service_healthy')
      expect(broker.ports?.[0]).toMatch(/^127\.0\.0\.1:\d+:8700/)
      expect(broker.volumes).toContainEqual(
        expect.stringMatching(/wxbroker\.yaml:\/etc\/wxbroker\/wxbroker\.yaml:ro$/)
      )
    }
    expect(Object.keys(services).sort()).toEqual([
      'broker-1',
      'broker-2',
      'grafana',
      'prometheus',
      'redis',
    ])

    // Every bind-mounted file or directory exists.
    for (const [name, service] of Object.entries(services)) {
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0] ?? ''
        if (source.startsWith('/')) expect(existsSync(source), `${name}: ${source}`).toBe(true)
      }
    }

    // The broker config listens on all interfaces and uses the compose Redis.
    const config = parse(readFileSync(deployPath('compose', 'wxbroker.yaml'), 'utf8')) as {
      listen: unknown
      store: { redis: string }
    }
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 8700 })
    expect(config.store.redis).toBe('redis://redis:6379/0')
    // Every ${env:NAME} in it is passed to the brokers.
    const referenced = [...JSON.stringify(config).matchAll(/\$\{env:(\w+)\}/g)].map((m) => m[1])
    expect(Object.keys(services['broker-1']?.environment ?? {})).toEqual(
      expect.arrayContaining(referenced)
    )

    // Prometheus scrapes both replicas under the job name the alert rules expect.
    const prometheus = parse(readFileSync(deployPath('prometheus', 'prometheus.yml'), 'utf8')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[]
    }
    const job = prometheus.scrape_configs.find((j) => j.job_name === 'wxbroker')
    expect(job?.static_configs.flatMap((c) => c.targets)).toEqual(brokers.map((b) => `${b}:8700`))
  })
})
