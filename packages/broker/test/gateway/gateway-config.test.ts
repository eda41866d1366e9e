import { describe, expect, it } from 'vitest'
import { buildConfig, ConfigError, sha256 } from '../../src/config/load.js'
import { generateKey } from '../../src/commands/hash-key.js'

// The gateway's settings (design §10): off unless configured, validated like the rest (each
// problem names the field and the fix), every value settable from the environment.

const APPID = 'wx0123456789abcdef'
const KEY_HASH = sha256('a-client-key-of-enough-length').toString('hex')
const client = (extra: Record<string, unknown> = {}) => ({
  name: 'svc',
  keySha256: KEY_HASH,
  apps: [APPID],
  scopes: ['gateway'],
  ...extra,
})
const base = (extra: Record<string, unknown> = {}) => ({
  apps: [{ appid: APPID, secret: 'an-app-secret' }],
  clients: [client()],
  ...extra,
})

function problems(tree: unknown, env: Record<string, string> = {}): string[] {
  try {
    buildConfig(tree, 'test.yaml', env)
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError)
    return (e as ConfigError).problems.map((p) => `${p.path}: ${p.message}`)
  }
  throw new Error('expected the config to be rejected')
}

describe('gateway config', () => {
  it('is off without a gateway section; a client granted the gateway scope then gets a warning', () => {
    const config = buildConfig(base(), 'test.yaml', {})
    expect(config.gateway).toBeNull()
    expect(config.warnings).toEqual([
      {
        path: 'clients[0].scopes',
        message:
          'grants gateway, but the gateway is off; add a gateway section (gateway.listen) to turn it on',
      },
    ])
  })

  it('an empty section turns it on with the documented defaults; clients default to real tokens', () => {
    const config = buildConfig(base({ gateway: {} }), 'test.yaml', {})
    expect(config.gateway).toEqual({
      listen: { host: '127.0.0.1', port: 8701 },
      allowPaths: [],
      maxBodyBytes: 1048576,
      timeoutMs: 10000,
      connections: 32,
      refetchGuard: { checkAfter: 3, refuseAfter: 120, windowSeconds: 60 },
    })
    expect(config.clients[0]?.tokenMode).toBe('real')
    expect(config.clients[0]?.gatewayPaths).toBeUndefined()
    expect(config.warnings).toEqual([])
  })

  it('every setting has its WXBROKER_* override, which also turns the gateway on', () => {
    const config = buildConfig(base(), 'test.yaml', {
      WXBROKER_GATEWAY_LISTEN_HOST: '0.0.0.0',
      WXBROKER_GATEWAY_LISTEN_PORT: '9443',
      WXBROKER_GATEWAY_ALLOW_PATHS: '/wxa/getwxadevinfo,/cgi-bin/media/*',
      WXBROKER_GATEWAY_MAX_BODY_BYTES: '2048',
      WXBROKER_GATEWAY_TIMEOUT_MS: '3000',
      WXBROKER_GATEWAY_CONNECTIONS: '8',
      WXBROKER_GATEWAY_REFETCH_GUARD_CHECK_AFTER: '3',
      WXBROKER_GATEWAY_REFETCH_GUARD_REFUSE_AFTER: '9',
      WXBROKER_GATEWAY_REFETCH_GUARD_WINDOW_SECONDS: '30',
      WXBROKER_CLIENTS_0_TOKEN_MODE: 'alias',
      WXBROKER_CLIENTS_0_GATEWAY_PATHS: '/wxa/*,/datacube/*',
    })
    expect(config.gateway).toEqual({
      listen: { host: '0.0.0.0', port: 9443 },
      allowPaths: ['/wxa/getwxadevinfo', '/cgi-bin/media/*'],
      maxBodyBytes: 2048,
      timeoutMs: 3000,
      connections: 8,
      refetchGuard: { checkAfter: 3, refuseAfter: 9, windowSeconds: 30 },
    })
    expect(config.clients[0]).toMatchObject({
      tokenMode: 'alias',
      gatewayPaths: ['/wxa/*', '/datacube/*'],
    })
  })

  it('refuses paths it could not match, or would never forward, naming each entry', () => {
    expect(
      problems(
        base({
          gateway: {
            allowPaths: [
              'wxa/x',
              '/cgi-bin/token',
              '/a/../b',
              '/cgi-bin/component/*',
              '/cgi-bin/clear_quota/v2',
              '/x//y',
              '/a%2fb',
              '/ok/*',
              7,
            ],
            bogus: 1,
          },
        })
      )
    ).toEqual([
      'gateway.allowPaths[0]: must be a path such as /wxa/msg_sec_check, or a prefix such as /datacube/* (letters, digits, _ . ~ - between slashes) (got "wxa/x")',
      'gateway.allowPaths[1]: is never forwarded (the token endpoints, clear_quota and component APIs); remove it (got "/cgi-bin/token")',
      'gateway.allowPaths[2]: must be a path such as /wxa/msg_sec_check, or a prefix such as /datacube/* (letters, digits, _ . ~ - between slashes) (got "/a/../b")',
      'gateway.allowPaths[3]: is never forwarded (the token endpoints, clear_quota and component APIs); remove it (got "/cgi-bin/component/*")',
      'gateway.allowPaths[4]: is never forwarded (the token endpoints, clear_quota and component APIs); remove it (got "/cgi-bin/clear_quota/v2")',
      'gateway.allowPaths[5]: must be a path such as /wxa/msg_sec_check, or a prefix such as /datacube/* (letters, digits, _ . ~ - between slashes) (got "/x//y")',
      'gateway.allowPaths[6]: must be a path such as /wxa/msg_sec_check, or a prefix such as /datacube/* (letters, digits, _ . ~ - between slashes) (got "/a%2fb")',
      'gateway.allowPaths[8]: must be a path string such as /wxa/msg_sec_check or /datacube/* (got 7)',
      'gateway.bogus: is not a known setting; remove it or fix the spelling (known here: listen, allowPaths, maxBodyBytes, timeoutMs, connections, refetchGuard)',
    ])
  })

  it('refuses client settings the gateway could not honour', () => {
    expect(
      problems(
        base({
          gateway: {},
          clients: [
            client({ gatewayPaths: ['/wxa/*'] }),
            client({
              name: 'no-scope',
              keySha256: sha256('another-key-of-enough-length').toString('hex'),
              scopes: ['token:read'],
              tokenMode: 'alias',
            }),
            client({
              name: 'unsafe',
              keySha256: undefined,
              key: 'a key with spaces and / slash',
            }),
          ],
        })
      )
    ).toEqual([
      'clients[0].gatewayPaths: needs tokenMode: alias: a real access_token from the gateway works for every allowed path (and at WeChat itself), so only an alias token can be held to these paths',
      'clients[1].tokenMode: is alias but scopes lack gateway; add gateway to scopes or remove tokenMode',
      'clients[2].key: holds characters other than A-Z a-z 0-9 _ -, and SDKs put the key into URLs unencoded; use a key from `wxbroker hash-key`',
    ])
    expect(
      problems(base({ gateway: {}, clients: [client({ tokenMode: 'fake', gatewayPaths: [] })] }))
    ).toEqual([
      'clients[0].tokenMode: must be real (the app token) or alias (a token only the gateway accepts) (got "fake")',
      'clients[0].gatewayPaths: is empty; list the paths this client may call, or remove it',
    ])
  })

  it('refuses a gateway port the API listens on, and a refetch guard that refuses before it checks', () => {
    expect(
      problems(
        base({
          listen: { host: '127.0.0.1', port: 8700 },
          gateway: {
            listen: { host: '0.0.0.0', port: 8700 },
            refetchGuard: { checkAfter: 5, refuseAfter: 5 },
          },
        })
      )
    ).toEqual([
      'gateway.listen.port: is listen.port (8700) too; the gateway needs a port of its own, e.g. 8701 (got 8700)',
      'gateway.refetchGuard.refuseAfter: must be above checkAfter (5): a key is refused only after WeChat has said its token works (got 5)',
    ])
    // Different addresses may share a port; 0 picks a free one each.
    expect(
      buildConfig(
        base({ listen: { host: '127.0.0.1', port: 0 }, gateway: { listen: { port: 0 } } }),
        'test.yaml',
        {}
      ).gateway?.listen
    ).toEqual({ host: '127.0.0.1', port: 0 })
  })

  it('keys from `wxbroker hash-key` are URL-safe and start with wxb_', () => {
    for (let i = 0; i < 50; i++) expect(generateKey()).toMatch(/^wxb_[A-Za-z0-9_-]{43}$/)
  })
})
