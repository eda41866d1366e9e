import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildConfig, ConfigError, loadConfig, type BrokerConfig } from '../../src/config/load.js'

// What the loader reads from disk: secret files (regular files only, small, one final newline
// dropped, whitespace warned about) and the YAML itself (bounded, hostile documents refused with a
// line number instead of a library stack trace or a crash).

const APPID = 'wx0123456789abcdef'
const SECRET = 'S3cr3t-value-never-printed'
const dir = mkdtempSync(join(tmpdir(), 'wxb-config-files-'))

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

function withSecretFile(secretFile: string): unknown {
  return { apps: [{ appid: APPID, secretFile }] }
}

function problemsOf(run: () => unknown): string[] {
  try {
    run()
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    expect((e as Error).message).not.toContain(SECRET)
    return (e as ConfigError).problems.map((p) => `${p.path}: ${p.message}`)
  }
  throw new Error('expected the config to be rejected')
}

function loadYaml(name: string, yaml: string): BrokerConfig {
  return loadConfig({ path: file(name, yaml), env: {} })
}

describe('secretFile', () => {
  it('drops exactly one final \\n or \\r\\n, and nothing else', () => {
    const cases: [string, string][] = [
      [`${SECRET}\n`, SECRET],
      [`${SECRET}\r\n`, SECRET],
      [SECRET, SECRET],
      [`${SECRET}\n\n`, `${SECRET}\n`],
      [`${SECRET} \n`, `${SECRET} `],
      [`\t${SECRET}`, `\t${SECRET}`],
    ]
    cases.forEach(([content, secret], i) => {
      const config = buildConfig(withSecretFile(file(`trim-${i}`, content)), 'x', {})
      expect(config.apps[0]?.secret).toBe(secret)
    })
  })

  it('warns (naming the field, never the value) when whitespace remains around the secret', () => {
    const path = file('padded', `${SECRET}\n\n`)
    const config = buildConfig(withSecretFile(path), 'x', {})
    expect(config.warnings).toEqual([
      {
        path: 'apps[0].secretFile',
        message: `the secret in ${path} has leading or trailing whitespace (kept as is); remove it unless it is part of the secret, or WeChat answers 40125 (invalid appsecret)`,
      },
    ])
    const clean = buildConfig(withSecretFile(file('clean', `${SECRET}\n`)), 'x', {})
    expect(clean.warnings).toEqual([])
  })

  it('warns the same way about an inline secret, after ${env:} interpolation', () => {
    const config = buildConfig(
      {
        apps: [
          { appid: APPID, secret: '${env:PADDED}' },
          { appid: 'wx00000000000000aa', secret: ` ${SECRET}` },
          { appid: 'wx00000000000000bb', secret: SECRET },
        ],
      },
      'x',
      { PADDED: `${SECRET}\n` }
    )
    expect(config.apps[0]?.secret).toBe(`${SECRET}\n`)
    expect(config.warnings.map((w) => w.path)).toEqual(['apps[0].secret', 'apps[1].secret'])
    expect(config.warnings[0]?.message).toBe(
      'the secret has leading or trailing whitespace (kept as is); remove it unless it is part of the secret, or WeChat answers 40125 (invalid appsecret)'
    )
    expect(JSON.stringify(config.warnings)).not.toContain(SECRET)
  })

  it('refuses anything but a regular file of at most 4 KiB, naming the field and why', () => {
    const sub = join(dir, 'a-directory')
    mkdirSync(sub, { recursive: true })
    const big = file('big', Buffer.alloc(4097, 'a'))
    const exact = file('exact', Buffer.alloc(4096, 'a'))
    expect(
      problemsOf(() =>
        buildConfig(
          {
            apps: [
              { appid: 'wx00000000000000a1', secretFile: '/dev/null' },
              { appid: 'wx00000000000000a2', secretFile: sub },
              { appid: 'wx00000000000000a3', secretFile: big },
              { appid: 'wx00000000000000a4', secretFile: exact },
            ],
          },
          'x',
          {}
        )
      )
    ).toEqual([
      'apps[0].secretFile: is a character device, not a regular file (/dev/null); point it at a regular file of at most 4096 bytes holding only the app secret',
      `apps[1].secretFile: is a directory, not a regular file (${sub}); point it at a regular file of at most 4096 bytes holding only the app secret`,
      `apps[2].secretFile: is larger than 4096 bytes (${big}); point it at a regular file of at most 4096 bytes holding only the app secret`,
    ])
  })
})

describe('the config file', () => {
  it('must be a regular file of at most 1 MiB', () => {
    expect(problemsOf(() => loadConfig({ path: '/dev/null', env: {} }))).toEqual([
      '(file): is a character device, not a regular file; pass the path of the YAML config (a regular file of at most 1048576 bytes)',
    ])
    const big = file('big.yaml', `# ${'x'.repeat(1024 * 1024)}\napps: []\n`)
    expect(problemsOf(() => loadConfig({ path: big, env: {} }))).toEqual([
      '(file): is larger than 1048576 bytes; pass the path of the YAML config (a regular file of at most 1048576 bytes)',
    ])
  })

  it('an alias bomb ("billion laughs") is a problem at its line, not a library stack trace', () => {
    const bomb = [
      `apps: [{appid: ${APPID}, secret: ${SECRET}}]`,
      'a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]',
      'f: [*e, *e, *e, *e, *e, *e, *e, *e, *e]',
    ].join('\n')
    expect(problemsOf(() => loadYaml('bomb.yaml', bomb))).toEqual([
      'line 5: YAML aliases expand to more than 100 copies (an alias bomb?); write the values out instead of nesting aliases',
    ])
  })

  it('an alias before its anchor, and an alias inside its own anchor, are problems', () => {
    expect(
      problemsOf(() => loadYaml('unresolved.yaml', 'listen: {port: 1}\napps: *nope\n'))
    ).toEqual([
      'line 2: YAML alias *nope cannot be expanded (its anchor &nope must come before it); fix the alias',
    ])
    const cycle = `apps: &apps [{appid: ${APPID}, secret: ${SECRET}, extra: *apps}]\n`
    expect(problemsOf(() => loadYaml('cycle.yaml', cycle))).toEqual([
      'apps[0].extra: contains itself (a YAML alias inside its own anchor); write the value out',
    ])
  })

  it('refuses nesting deeper than a config needs before the parser recurses', () => {
    // The parser recurses per level; after one stack overflow a second one can abort the process
    // (V8 fails to compile a regular expression near the stack limit), so both shapes, twice.
    for (const depth of [2_000, 20_000]) {
      const flow = `apps: ${'['.repeat(depth)}${']'.repeat(depth)}\n`
      expect(problemsOf(() => loadYaml(`flow-${depth}.yaml`, flow))).toEqual([
        'line 1: nests deeper than 64 levels; a wxbroker config needs a few, so fix the indentation or brackets',
      ])
      const block = Array.from({ length: 1_000 }, (_, i) => `${' '.repeat(i)}a:`).join('\n')
      expect(problemsOf(() => loadYaml(`block-${depth}.yaml`, `${block} 1\n`))).toEqual([
        'line 130: nests deeper than 64 levels; a wxbroker config needs a few, so fix the indentation or brackets',
      ])
    }
  })

  it('a __proto__ key is an unknown key, not a way to set hidden values', () => {
    const yaml = `__proto__: {listen: {port: 1}}\napps: [{appid: ${APPID}, secret: ${SECRET}}]\n`
    expect(problemsOf(() => loadYaml('proto.yaml', yaml))).toEqual([
      '__proto__: is not a known setting; remove it or fix the spelling (known here: listen, store, wechat, apps, clients, metrics, http, gateway, statusPage, log)',
    ])
  })
})
