import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../src/observability/logger.js'
import {
  APP1,
  APP2,
  KEYS,
  SECRET1,
  SECRET2,
  jsonInit,
  startHarness,
  type Harness,
} from '../support/harness.js'

// Secrets stay inside: with a known app secret, the issued tokens, a known session_key and the
// client keys, none may appear in logs, /metrics, /v1/apps, /status or any error body.

const SESSION_KEY = 'S2VlcFRoaXNTZWNyZXQ0Mg=='

let h: Harness
const exposed: { where: string; text: string }[] = []

beforeAll(async () => {
  h = await startHarness({ config: { log: { level: 'trace' } } })
  await h.sim.admin.registerLoginCode({
    appid: APP1,
    code: 'redact-code',
    openid: 'o-redact',
    sessionKey: SESSION_KEY,
  })

  const record = async (where: string, res: Response): Promise<void> => {
    exposed.push({ where: `${where} (${res.status})`, text: await res.text() })
  }
  const tokenRes = await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.all })
  const { access_token: token } = (await tokenRes.json()) as { access_token: string }
  // Login: the success body carries session_key by design; everything else must not.
  expect(
    (
      await h.fetch(
        `/v1/apps/${APP1}/jscode2session`,
        jsonInit({ js_code: 'redact-code' }, KEYS.login)
      )
    ).status
  ).toBe(200)
  // Errors of every kind, some of them carrying the token or the session key in the request.
  await record(
    'reused code',
    await h.fetch(
      `/v1/apps/${APP1}/jscode2session`,
      jsonInit({ js_code: 'redact-code' }, KEYS.login)
    )
  )
  await record(
    'bad body with a token',
    await h.fetch(
      `/v1/apps/${APP1}/token/invalidate`,
      jsonInit({ access_token: token, errcode: 'x' }, KEYS.all)
    )
  )
  await record(
    'bad json with a token',
    await h.fetch(`/v1/apps/${APP1}/token/invalidate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: `{"access_token":"${token}"`,
      key: KEYS.all,
    })
  )
  await record(
    'unknown extra field',
    await h.fetch(
      `/v1/apps/${APP1}/jscode2session`,
      jsonInit({ js_code: 'x', session_key: SESSION_KEY }, KEYS.login)
    )
  )
  await record('wrong scope', await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.login }))
  await record('unknown key = secret', await h.fetch(`/v1/apps/${APP1}/token`, { key: SECRET1 }))
  await record('wrong app', await h.fetch(`/v1/apps/${APP2}/token`, { key: KEYS.reader }))
  // Its success body carries the new token by design; the report itself must not leak into logs.
  expect(
    (
      await h.fetch(
        `/v1/apps/${APP1}/token/invalidate`,
        jsonInit({ access_token: token }, KEYS.all)
      )
    ).status
  ).toBe(200)
  await record(
    'cooldown',
    await h.fetch(`/v1/apps/${APP1}/token/refresh`, { method: 'POST', key: KEYS.admin })
  )
  await record(
    'not found with token in query',
    await h.fetch(`/cgi-bin/token?access_token=${token}&secret=${SECRET1}`)
  )
  await record('/v1/apps', await h.fetch('/v1/apps', { key: KEYS.admin }))
  await record('/status', await h.fetch('/status'))
  await record('/readyz', await h.fetch('/readyz'))
  await record('/metrics', await h.fetch('/metrics'))
})
afterAll(async () => {
  await h.close()
})

describe('redaction', () => {
  it('no secret, token, session key or client key in logs, /metrics, /v1/apps, /status or error bodies', async () => {
    const tokens = [
      ...(await h.sim.admin.tokens(APP1, 'stable')).all.map((t) => t.token),
      ...(await h.sim.admin.tokens(APP2, 'classic')).all.map((t) => t.token),
    ]
    expect(tokens.length).toBeGreaterThanOrEqual(3)
    const forbidden = [SECRET1, SECRET2, SESSION_KEY, ...tokens, ...Object.values(KEYS)]
    const logs = h.logs.join('')
    expect(h.logs.length).toBeGreaterThan(20)
    // The access log really ran for these requests, so the check below has material.
    expect(logs).toContain('"route":"/v1/apps/{appid}/jscode2session"')
    for (const value of forbidden) {
      expect(logs, 'logs').not.toContain(value)
      for (const e of exposed) expect(e.text, e.where).not.toContain(value)
    }
  })

  it('the pino redaction net censors secret-looking fields even if code logged them', () => {
    const lines: string[] = []
    const logger = createLogger({ destination: { write: (l: string) => void lines.push(l) } })
    logger.info(
      {
        secret: 'LEAK1',
        app: { secret: 'LEAK2', access_token: 'LEAK3', session_key: 'LEAK4' },
        req: { headers: { authorization: 'Bearer LEAK5' } },
        accessToken: 'LEAK6',
        key: 'LEAK7',
      },
      'oops'
    )
    const out = lines.join('')
    expect(out).toContain('"msg":"oops"')
    expect(out).not.toContain('LEAK')
    expect(out).toContain('[redacted]')
  })
})
