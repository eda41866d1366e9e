import { mkdirSync, readFileSync } from 'node:fs'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchChromium, type HeadlessChromium } from '../src/chromium.js'
import { repoPath } from '../src/paths.js'
import {
  sha256,
  startRunningBroker,
  TEST_APPS,
  TEST_KEYS,
  type AppView,
  type RunningBroker,
} from '../src/running-broker.js'

// The broker's /status page in a real headless Chromium: it renders every app of a running broker
// and never shows a token, a secret or a client key. The screenshot is kept as a CI artifact.

const SCREENSHOT = repoPath('.test-artifacts', 'status-page.png')

let broker: RunningBroker
let browser: HeadlessChromium
let page: Page
let apps: AppView[]

beforeAll(async () => {
  ;[broker, browser] = await Promise.all([startRunningBroker(), launchChromium()])
  apps = await broker.apps()
  page = await browser.context.newPage()
  const res = await page.goto(`${broker.url}/status`)
  expect(res?.status()).toBe(200)
})

afterAll(async () => {
  await browser?.close()
  await broker?.stop()
})

/** "1h 59m" / "3m 20s" / "42s" as the page writes durations, in seconds. */
function seconds(text: string): number {
  const m = /^(?:(\d+)h (\d+)m|(\d+)m (\d+)s|(\d+)s)$/.exec(text.trim())
  if (!m) throw new Error(`not a duration: ${text}`)
  const n = (i: number): number => Number(m[i] ?? 0)
  return n(1) * 3600 + (n(2) + n(3)) * 60 + n(4) + n(5)
}

describe('status page in headless Chromium', () => {
  it('renders every app: token kind, generation, time to expiry and a quota bar', async () => {
    expect(await page.title()).toBe('wxbroker status')
    expect(apps.map((a) => a.appid).sort()).toEqual(TEST_APPS.map((a) => a.appid).sort())
    for (const app of apps) {
      const card = page.locator(`section.app[data-appid="${app.appid}"]`)
      await expect.poll(() => card.isVisible()).toBe(true)
      const row = (dt: string) => card.locator(`dt:text-is("${dt}") + dd`)
      expect(await card.locator('h2').innerText()).toContain(app.appid)
      expect(await row('Token kind').innerText()).toBe(app.token_kind)
      expect(await row('Generation').innerText()).toBe(String(app.generation))
      // Time to WeChat's expiry of a token fetched moments ago: under two hours, and at least
      // the safe remaining use the API reports (which leaves out the planned rotation).
      const expiry = seconds(await row('Expires in').innerText())
      expect(expiry).toBeLessThanOrEqual(7200)
      // "1h 59m" drops the seconds: up to a minute below the exact figure.
      expect(expiry).toBeGreaterThanOrEqual(app.expires_in - 60)
      const quota = await row('Quota today').innerText()
      expect(quota).toContain(`${app.quota.used} / ${app.quota.limit}`)
      const bar = card.getByRole('meter')
      expect(await bar.isVisible()).toBe(true)
      expect(await bar.getAttribute('aria-valuenow')).toBe(String(app.quota.used))
      expect(await bar.getAttribute('aria-valuemax')).toBe(String(app.quota.limit))
    }
  })

  it('never shows a token, a secret or a client key, in the text or the HTML', async () => {
    const tokens = await broker.issuedTokens()
    expect(tokens.length).toBeGreaterThanOrEqual(TEST_APPS.length)
    const forbidden = [
      ...tokens,
      ...TEST_APPS.map((a) => a.secret),
      ...Object.values(TEST_KEYS),
      ...Object.values(TEST_KEYS).map(sha256),
    ]
    const text = await page.locator('body').innerText()
    const html = await page.content()
    expect(text).toContain(TEST_APPS[0]?.appid) // the page did render
    for (const value of forbidden) {
      expect(text.includes(value), `page text shows ${value.slice(0, 6)}…`).toBe(false)
      expect(html.includes(value), `page HTML shows ${value.slice(0, 6)}…`).toBe(false)
    }
  })

  it('saves a screenshot as a CI artifact', async () => {
    mkdirSync(repoPath('.test-artifacts'), { recursive: true })
    await page.screenshot({ path: SCREENSHOT, fullPage: true })
    const png = readFileSync(SCREENSHOT)
    expect(png.subarray(0, 8)).toEqual(
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
    )
    expect(png.length).toBeGreaterThan(5000)
    console.log(`status page screenshot: ${SCREENSHOT}`)
  })
})
