import { execFile, execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { serveBroker } from '@wxbroker/testkit'

const BIN = fileURLToPath(new URL('../../bin/wxbroker.js', import.meta.url))

function run(
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 0
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env }, timeout: timeoutMs },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
      }
    )
  })
}

/** Runs a command whose reader has gone away before it writes (`... | head -0`). */
function runWithStdoutClosed(
  args: string[],
  env: Record<string, string> = {}
): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { PATH: process.env.PATH ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    child.stdout.destroy()
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('close', (code) => resolve({ code, stderr }))
  })
}

describe('wxbroker hash-key', () => {
  it('hashes a given key', async () => {
    const r = await run(['hash-key', 'my-client-key'])
    expect(r.code).toBe(0)
    const expected = createHash('sha256').update('my-client-key').digest('hex')
    expect(r.stdout).toBe(`key:       my-client-key\nkeySha256: ${expected}\n`)
  })

  it('generates a random key when none is given, and prints its hash', async () => {
    const r = await run(['hash-key'])
    expect(r.code).toBe(0)
    const key = /^key: +(wxb_[A-Za-z0-9_-]{43})$/m.exec(r.stdout)?.[1]
    const hash = /^keySha256: ([0-9a-f]{64})$/m.exec(r.stdout)?.[1]
    expect(key).toBeDefined()
    expect(hash).toBe(
      createHash('sha256')
        .update(key ?? '')
        .digest('hex')
    )
    const again = await run(['hash-key'])
    expect(again.stdout).not.toContain(key)
  })
})

describe('wxbroker check-config', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wxb-cli-'))
  const good = join(dir, 'good.yaml')
  writeFileSync(
    good,
    'apps:\n  - appid: wx0123456789abcdef\n    secret: ${env:WX_SECRET}\nclients:\n  - name: svc\n    key: ${env:SVC_KEY}\n    apps: ["*"]\n    scopes: [token:read]\n'
  )
  const bad = join(dir, 'bad.yaml')
  writeFileSync(
    bad,
    'listen: {port: -1}\napps:\n  - appid: wx0123\n    secret: super-secret-value\n    extra: 1\n'
  )

  it('exits 0 with a summary for a valid config', async () => {
    const r = await run(['check-config', '--config', good], {
      WX_SECRET: 'super-secret-value',
      SVC_KEY: 'svc-key-0000000000000',
    })
    expect(r.code).toBe(0)
    expect(r.stdout).toBe(
      `config OK: ${good}\n  listen: 127.0.0.1:8700\n  store: in-memory (single instance only)\n  apps: wx0123456789abcdef (stable)\n  clients: svc\n`
    )
    expect(r.stdout + r.stderr).not.toContain('super-secret-value')
  })

  it('exits 1 listing every problem, without the secret', async () => {
    const r = await run(['check-config', '--config', bad])
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      [
        `invalid configuration in ${bad} (3 problems):`,
        '  listen.port: must be at least 0 (a TCP port; 0 picks a free one) (got -1)',
        `  apps[0].appid: must be 'wx' followed by 16 lowercase hex digits, e.g. wx0123456789abcdef (got "wx0123")`,
        '  apps[0].extra: is not a known setting; remove it or fix the spelling (known here: appid, secret, secretFile, tokenKind, refreshLeadSeconds, dailyQuota, quotaWarnRatio, invalidateCooldownSeconds, scheduledReserve, reportRefreshDailyLimit, clientReportRefreshDailyLimit, foreignCheckSeconds)',
        '',
      ].join('\n')
    )
    expect(r.stderr).not.toContain('super-secret-value')
  })

  it('reads WXBROKER_CONFIG and applies WXBROKER_* overrides', async () => {
    const r = await run(['check-config'], {
      WXBROKER_CONFIG: good,
      WX_SECRET: 's',
      SVC_KEY: 'svc-key-0000000000000',
      WXBROKER_LISTEN_PORT: '9100',
    })
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('listen: 127.0.0.1:9100')
  })

  it('unknown commands exit 2 with usage', async () => {
    const r = await run(['frobnicate'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('usage: wxbroker <command>')
  })

  it('an unparsable Redis URL from WXBROKER_STORE_REDIS fails the check, password masked', async () => {
    const r = await run(['check-config', '--config', good], {
      WX_SECRET: 's',
      SVC_KEY: 'svc-key-0000000000000',
      WXBROKER_STORE_REDIS: 'redis://:PASSWORD-0451@127.0.0.1:99999/0',
    })
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(
      'store.redis: is not a valid URL: the port must be a number from 1 to 65535 (got "redis://***@127.0.0.1:99999/0")'
    )
    expect(r.stdout + r.stderr).not.toContain('PASSWORD-0451')
  })

  it('a FIFO or a device as secretFile is refused at once, not read (hang, memory)', async () => {
    const fifo = join(dir, 'secret-fifo')
    execFileSync('mkfifo', [fifo])
    const yaml = join(dir, 'fifo.yaml')
    writeFileSync(
      yaml,
      `apps:\n  - {appid: wx0123456789abcdef, secretFile: ${fifo}}\n  - {appid: wx00000000000000aa, secretFile: /dev/zero}\n`
    )
    const r = await run(['check-config', '--config', yaml], {}, 15_000)
    expect(r.stderr).toBe(
      [
        `invalid configuration in ${yaml} (2 problems):`,
        `  apps[0].secretFile: is a FIFO (named pipe), not a regular file (${fifo}); point it at a regular file of at most 4096 bytes holding only the app secret`,
        '  apps[1].secretFile: is a character device, not a regular file (/dev/zero); point it at a regular file of at most 4096 bytes holding only the app secret',
        '',
      ].join('\n')
    )
    expect(r.code).toBe(1)
  })

  it('prints warnings on stderr and still exits 0', async () => {
    const secretFile = join(dir, 'padded-secret')
    writeFileSync(secretFile, 'padded-secret-value \n')
    const yaml = join(dir, 'warn.yaml')
    writeFileSync(yaml, `apps:\n  - appid: wx0123456789abcdef\n    secretFile: ${secretFile}\n`)
    const r = await run(['check-config', '--config', yaml])
    expect(r.code).toBe(0)
    expect(r.stdout).toContain(`config OK: ${yaml}`)
    expect(r.stderr).toBe(
      `warning: apps[0].secretFile: the secret in ${secretFile} has leading or trailing whitespace (kept as is); remove it unless it is part of the secret, or WeChat answers 40125 (invalid appsecret)\n`
    )
    expect(r.stdout + r.stderr).not.toContain('padded-secret-value')
  })
})

describe('a reader that stops early (`wxbroker ... | head -1`)', () => {
  it('ends check-config, hash-key and help quietly with their own exit code', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxb-cli-'))
    const good = join(dir, 'good.yaml')
    writeFileSync(good, 'apps:\n  - appid: wx0123456789abcdef\n    secret: s\n')
    const results = await Promise.all([
      runWithStdoutClosed(['check-config', '--config', good]),
      runWithStdoutClosed(['hash-key']),
      runWithStdoutClosed(['help']),
    ])
    expect(results).toEqual([
      { code: 0, stderr: '' },
      { code: 0, stderr: '' },
      { code: 0, stderr: '' },
    ])
  })
})

describe('wxbroker serve', () => {
  const APPID = 'wx0000000000000c12'
  const SECRET = ' serve-warning-secret-5d1e'
  let sim: Simulator
  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appid: APPID, secret: SECRET }] })
  })
  afterAll(async () => {
    await sim.close()
  })

  it('logs the config warnings at start, naming the field and never the value', async () => {
    const yaml = [
      'listen: { host: 127.0.0.1, port: 0 }',
      `wechat: { baseUrl: "${sim.url}", timeoutMs: 3000 }`,
      'apps:',
      `  - appid: ${APPID}`,
      '    secret: ${env:APP_SECRET}',
      '',
    ].join('\n')
    const broker = await serveBroker(yaml, { APP_SECRET: SECRET })
    try {
      const line = await broker.waitForLine((l) => l.includes('"msg":"config: '))
      expect(JSON.parse(line)).toMatchObject({
        level: 40,
        field: 'apps[0].secret',
        msg: 'config: the secret has leading or trailing whitespace (kept as is); remove it unless it is part of the secret, or WeChat answers 40125 (invalid appsecret)',
      })
      expect(broker.stdout.join('\n') + broker.stderr()).not.toContain(SECRET.trim())
    } finally {
      await broker.proc.stop('SIGKILL')
    }
  })
})
