import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, type HeadlessChromium } from '../src/chromium.js'
import {
  startRunningBroker,
  TEST_APPS,
  TEST_KEYS,
  type RunningBroker,
} from '../src/running-broker.js'

// The status page's sign-in (statusPage.requireAdmin) as a person uses it, in a real headless
// Chromium against a real `wxbroker serve`: the form, a wrong key, the right one, the cookie the
// browser keeps, and signing out.

let broker: RunningBroker
let browser: HeadlessChromium
let page: Page

beforeAll(async () => {
  ;[broker, browser] = await Promise.all([
    startRunningBroker('statusPage: { requireAdmin: true }\n'),
    launchChromium(),
  ])
  page = await browser.context.newPage()
})

afterAll(async () => {
  await browser?.close()
  await broker?.stop()
})

async function submit(key: string): Promise<number | undefined> {
  await page.fill('input[name="key"]', key)
  const [response] = await Promise.all([
    page.waitForNavigation(),
    page.click('button[type="submit"]'),
  ])
  return response?.status()
}

describe('status page sign-in in headless Chromium', () => {
  it('shows the form, refuses a wrong key, signs in with the admin key and out again', async () => {
    const first = await page.goto(`${broker.url}/status`)
    expect(first?.status()).toBe(401)
    expect(await page.title()).toBe('wxbroker status: sign in')

    expect(await submit('not-a-key-at-all-000000000000000')).toBe(401)
    expect(await page.getByRole('alert').innerText()).toBe('Unknown key.')
    expect(await submit(TEST_KEYS.client)).toBe(403)
    expect(await page.getByRole('alert').innerText()).toContain('admin scope')
    expect(await browser.context.cookies()).toEqual([])

    expect(await submit(TEST_KEYS.admin)).toBe(200)
    expect(page.url()).toBe(`${broker.url}/status`)
    expect(await page.title()).toBe('wxbroker status')
    for (const app of TEST_APPS) {
      expect(await page.locator(`section.app[data-appid="${app.appid}"]`).isVisible()).toBe(true)
    }
    const cookies = await browser.context.cookies()
    expect(cookies).toHaveLength(1)
    expect(cookies[0]).toMatchObject({
      name: 'wxb_status',
      path: '/status',
      httpOnly: true,
      sameSite: 'Strict',
      secure: false,
    })
    expect(cookies[0]?.value).not.toContain(TEST_KEYS.admin)
    // HttpOnly: the page's scripts cannot read it.
    // (A string script: the deploy package compiles without the DOM types.)
    expect(await page.evaluate('document.cookie')).toBe('')

    // A reload (the page refreshes itself every 15 s) stays signed in.
    expect((await page.reload())?.status()).toBe(200)

    const [out] = await Promise.all([
      page.waitForNavigation(),
      page.getByRole('button', { name: 'Sign out' }).click(),
    ])
    expect(out?.status()).toBe(401)
    expect(await page.title()).toBe('wxbroker status: sign in')
    expect(await browser.context.cookies()).toEqual([])
  })
})
