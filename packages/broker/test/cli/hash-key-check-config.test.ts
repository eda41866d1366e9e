import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const BIN = fileURLToPath(new URL('../../bin/wxbroker.js', import.meta.url))

function run(
  args: string[],
  env: Record<string, string> = {}
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { PATH: process.env.PATH ?? '', ...env } },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr })
      }
    )
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
})
