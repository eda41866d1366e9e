import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sha256, type ClientConfig } from '../../src/config/load.js'
import type { Scope } from '../../src/config/schema.js'
import {
  SESSION_COOKIE,
  SESSION_TTL_SECONDS,
  statusSessions,
} from '../../src/http/status-session.js'
import {
  APP1,
  APP2,
  KEYS,
  SECRET1,
  SECRET2,
  expectError,
  startHarness,
  type Harness,
} from '../support/harness.js'

// /status with statusPage.requireAdmin: a browser signs in with an admin key through a form and
// gets a short-lived signed cookie that any replica verifies; bearer keys keep working. Every
// status-page response says Cache-Control: no-store.

const REQUIRE_ADMIN = { statusPage: { enabled: true, requireAdmin: true } }
const FORM = 'application/x-www-form-urlencoded'

let h: Harness
beforeAll(async () => {
  h = await startHarness({ config: REQUIRE_ADMIN })
})
afterAll(async () => {
  await h.close()
})

const signIn = (key: string, headers: Record<string, string> = {}, harness: Harness = h) =>
  harness.fetch('/status/login', {
    method: 'POST',
    headers: { 'content-type': FORM, ...headers },
    body: new URLSearchParams({ key }).toString(),
    redirect: 'manual',
  })

/** The cookie's value from a sign-in answer. */
function cookieOf(res: Response): string {
  const set = res.headers.get('set-cookie') ?? ''
  const value = new RegExp(`^${SESSION_COOKIE}=([^;]*)`).exec(set)?.[1]
  if (!value) throw new Error(`no ${SESSION_COOKIE} cookie in ${set}`)
  return value
}

const withCookie = (value: string, harness: Harness = h) =>
  harness.fetch('/status', { headers: { cookie: `${SESSION_COOKIE}=${value}` } })

async function expectForm(res: Response, status: number, message?: string): Promise<string> {
  expect(res.status).toBe(status)
  expect(res.headers.get('content-type')).toMatch(/^text\/html/)
  expect(res.headers.get('cache-control')).toBe('no-store')
  const html = await res.text()
  expect(html).toContain('<form class="login" method="post" action="/status/login">')
  expect(html).toContain('<input id="key" name="key" type="password"')
  expect(html).not.toContain('class="app"')
  if (message !== undefined) expect(html).toContain(message)
  return html
}

const client = (name: string, key: string, scopes: Scope[] = ['admin']): ClientConfig => ({
  name,
  keyHash: sha256(key),
  apps: null,
  scopes: new Set(scopes),
})
/** What every replica of this config derives: the harness's apps and its admin client. */
const APPS = [
  { appid: APP1, secret: SECRET1 },
  { appid: APP2, secret: SECRET2 },
]
const ADMIN = client('admin', KEYS.admin)

describe('sign-in form', () => {
  it('no cookie: /status is 401 with the sign-in form, no app shown', async () => {
    await expectForm(await h.fetch('/status'), 401)
    await expectForm(await h.fetch('/status/login'), 200)
  })

  it('a wrong key: 401, the form again with a message, no cookie', async () => {
    const res = await signIn('not-a-client-key-0000000000000000')
    expect(res.headers.get('set-cookie')).toBeNull()
    await expectForm(res, 401, 'Unknown key.')
  })

  it('a key without the admin scope is refused (403), no cookie', async () => {
    for (const key of [KEYS.reader, KEYS.login, KEYS.otherApp]) {
      const res = await signIn(key)
      expect(res.headers.get('set-cookie')).toBeNull()
      await expectForm(res, 403, 'This key does not have the admin scope.')
    }
  })

  it('no key, or not a form: 400 with the form', async () => {
    await expectForm(await signIn(''), 400, 'Enter an admin client key.')
    await expectForm(
      await h.fetch('/status/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ key: KEYS.admin }),
      }),
      400,
      'application/x-www-form-urlencoded'
    )
  })

  it('the right key: 303 to /status with an HttpOnly, SameSite=Strict, /status-only cookie', async () => {
    const res = await signIn(KEYS.admin)
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/status')
    expect(res.headers.get('cache-control')).toBe('no-store')
    const set = res.headers.get('set-cookie') ?? ''
    const attributes = set.split(/;\s*/).slice(1)
    expect(attributes.sort()).toEqual(
      [`Max-Age=${SESSION_TTL_SECONDS}`, 'Path=/status', 'HttpOnly', 'SameSite=Strict'].sort()
    )
    // The key is nowhere in it, nor its digest.
    const value = cookieOf(res)
    for (const secret of [KEYS.admin, sha256(KEYS.admin).toString('hex')]) {
      expect(set).not.toContain(secret)
      expect(Buffer.from(value.split('.')[0] ?? '', 'base64url').toString()).not.toContain(secret)
    }

    const page = await withCookie(value)
    expect(page.status).toBe(200)
    expect(page.headers.get('cache-control')).toBe('no-store')
    const html = await page.text()
    expect(html).toContain(`data-appid="${APP1}"`)
    expect(html).toContain(`data-appid="${APP2}"`)
    expect(html).toContain('Signed in as admin.')
    expect(html).toContain('action="/status/logout"')
  })

  it('a pasted key with surrounding whitespace still signs in', async () => {
    expect((await signIn(`  ${KEYS.admin}\n`)).status).toBe(303)
  })

  it('Secure when the request came over HTTPS (a proxy says so)', async () => {
    for (const headers of [
      { 'x-forwarded-proto': 'https' } as Record<string, string>,
      { forwarded: 'for=1.2.3.4;proto=https' },
    ]) {
      const set = (await signIn(KEYS.admin, headers)).headers.get('set-cookie') ?? ''
      expect(set.split(/;\s*/)).toContain('Secure')
    }
    const plain = (await signIn(KEYS.admin, { 'x-forwarded-proto': 'http' })).headers.get(
      'set-cookie'
    )
    expect(plain?.split(/;\s*/)).not.toContain('Secure')
  })

  it('an admin limited to one app sees only that app', async () => {
    const value = cookieOf(await signIn(KEYS.app1Admin))
    const html = await (await withCookie(value)).text()
    expect(html).toContain(`data-appid="${APP1}"`)
    expect(html).not.toContain(`data-appid="${APP2}"`)
  })

  it('sign out clears the cookie; /status shows the form again', async () => {
    const value = cookieOf(await signIn(KEYS.admin))
    const res = await h.fetch('/status/logout', {
      method: 'POST',
      headers: { cookie: `${SESSION_COOKIE}=${value}` },
      redirect: 'manual',
    })
    expect(res.status).toBe(303)
    expect(res.headers.get('location')).toBe('/status')
    const set = res.headers.get('set-cookie') ?? ''
    expect(set).toMatch(new RegExp(`^${SESSION_COOKIE}=;`))
    expect(set.split(/;\s*/)).toEqual(expect.arrayContaining(['Max-Age=0', 'Path=/status']))
    await expectForm(await h.fetch('/status'), 401)
  })
})

describe('cookies that must not work', () => {
  let valid: string
  beforeAll(async () => {
    valid = cookieOf(await signIn(KEYS.admin))
  })

  const refused = async (value: string) => {
    const res = await withCookie(value)
    // The bad cookie is cleared, and the form says why.
    expect(res.headers.get('set-cookie')).toMatch(new RegExp(`^${SESSION_COOKIE}=;.*Max-Age=0`))
    await expectForm(res, 401, 'sign in again')
  }

  it('a tampered signature', async () => {
    const [payload = '', mac = ''] = valid.split('.')
    const flipped = mac.slice(0, -2) + (mac.at(-2) === 'A' ? 'B' : 'A') + mac.slice(-1)
    await refused(`${payload}.${flipped}`)
    await refused(payload)
    await refused(`${payload}.`)
    await refused(`${valid}.x`)
  })

  it("another client's name, or a later expiry, under the same signature", async () => {
    const [payload = '', mac = ''] = valid.split('.')
    const [name, expiry] = Buffer.from(payload, 'base64url').toString().split('.')
    expect(name).toBe('admin')
    const forge = (text: string) => `${Buffer.from(text).toString('base64url')}.${mac}`
    await refused(forge(`all.${expiry}`))
    await refused(forge(`admin.${Number(expiry) + 86_400}`))
  })

  it('an expired one (signed correctly, 12 h and more ago)', async () => {
    const sessions = statusSessions(APPS, [ADMIN])
    // Issued with this replica's config: accepted while fresh, refused once expired.
    expect((await withCookie(sessions.issue(ADMIN, Date.now()))).status).toBe(200)
    await refused(sessions.issue(ADMIN, Date.now() - SESSION_TTL_SECONDS * 1000 - 1000))
  })

  it('one signed with the key digest alone (which config files show) is a forgery', async () => {
    const { createHmac } = await import('node:crypto')
    const payload = `admin.${Math.floor(Date.now() / 1000) + 3600}`
    const mac = createHmac('sha256', ADMIN.keyHash).update(payload).digest('base64url')
    await refused(`${Buffer.from(payload).toString('base64url')}.${mac}`)
  })

  it('garbage of any size', async () => {
    for (const value of ['x', '.', '..', 'a.b', '%%%', 'A'.repeat(4000)]) await refused(value)
  })
})

describe('another replica (same apps and clients, nothing shared)', () => {
  it('accepts the cookie the first one issued; secureCookie marks its own Secure', async () => {
    const other = await startHarness({
      config: { statusPage: { enabled: true, requireAdmin: true, secureCookie: true } },
    })
    try {
      const value = cookieOf(await signIn(KEYS.admin))
      const res = await withCookie(value, other)
      expect(res.status).toBe(200)
      expect(await res.text()).toContain('Signed in as admin.')
      const own = await signIn(KEYS.admin, {}, other)
      expect(own.headers.get('set-cookie')?.split(/;\s*/)).toContain('Secure')
    } finally {
      await other.close()
    }
  })
})

describe('bearer keys keep working', () => {
  it('admin 200, unknown 401, no admin scope 403 (JSON envelope, as on /v1)', async () => {
    const res = await h.fetch('/status', { key: KEYS.admin })
    expect(res.status).toBe(200)
    expect(res.headers.get('cache-control')).toBe('no-store')
    for (const [key, status, code] of [
      ['unknown-key-00000000000000000000', 401, 'unauthorized'],
      [KEYS.reader, 403, 'forbidden'],
    ] as const) {
      const r = await h.fetch('/status', { key })
      expect(r.headers.get('cache-control')).toBe('no-store')
      await expectError(r, status, code)
    }
  })
})

describe('Cache-Control: no-store on every status-page response', () => {
  it('public page, and errors on the status paths', async () => {
    const open = await startHarness()
    try {
      const res = await open.fetch('/status')
      expect(res.status).toBe(200)
      expect(res.headers.get('cache-control')).toBe('no-store')
    } finally {
      await open.close()
    }
    const wrongMethod = await h.fetch('/status/login', { method: 'PUT' })
    expect(wrongMethod.headers.get('cache-control')).toBe('no-store')
    await expectError(wrongMethod, 405, 'method_not_allowed')
    const tooLarge = await h.fetch('/status/login', {
      method: 'POST',
      headers: { 'content-type': FORM },
      body: `key=${'k'.repeat(20_000)}`,
    })
    expect(tooLarge.headers.get('cache-control')).toBe('no-store')
    await expectError(tooLarge, 413, 'payload_too_large')
  })
})

describe('statusSessions', () => {
  const now = Date.parse('2026-11-23T10:00:00Z')
  it('expires after 12 h, to the second', () => {
    const sessions = statusSessions(APPS, [ADMIN])
    const value = sessions.issue(ADMIN, now)
    expect(sessions.verify(value, now + SESSION_TTL_SECONDS * 1000 - 1)).toBe(ADMIN)
    expect(sessions.verify(value, now + SESSION_TTL_SECONDS * 1000)).toBeUndefined()
  })

  it('ends when the key is rotated or the admin scope is taken away', () => {
    const value = statusSessions(APPS, [ADMIN]).issue(ADMIN, now)
    const rotated = client('admin', 'a-new-admin-key-0000000000000000')
    expect(statusSessions(APPS, [rotated]).verify(value, now)).toBeUndefined()
    const demoted = client('admin', KEYS.admin, ['token:read'])
    expect(statusSessions(APPS, [demoted]).verify(value, now)).toBeUndefined()
  })

  it('does not depend on the order apps are listed in, but on their secrets', () => {
    const value = statusSessions(APPS, [ADMIN]).issue(ADMIN, now)
    expect(statusSessions([...APPS].reverse(), [ADMIN]).verify(value, now)).toBe(ADMIN)
    const otherSecret = [
      { appid: APP1, secret: 'another' },
      { appid: APP2, secret: SECRET2 },
    ]
    expect(statusSessions(otherSecret, [ADMIN]).verify(value, now)).toBeUndefined()
  })
})
