import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type BrowserContext } from 'playwright-core'
import { INSTALL_HINTS } from './tools.js'

// Headless Chromium from Debian's package, driven by playwright-core. Never a downloaded browser:
// the executable is fixed, and each launch gets a fresh profile that is deleted afterwards.

export const CHROMIUM_PATH = '/usr/bin/chromium'

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
] as const

export interface HeadlessChromium {
  context: BrowserContext
  close(): Promise<void>
}

export async function launchChromium(): Promise<HeadlessChromium> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`${CHROMIUM_PATH} does not exist; install it: ${INSTALL_HINTS.chromium}`)
  }
  // Playwright takes the profile directory as an argument instead of --user-data-dir in args.
  const userDataDir = mkdtempSync(join(tmpdir(), 'wxbroker-chromium-'))
  try {
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: { width: 900, height: 700 },
    })
    return {
      context,
      async close() {
        await context.close()
        rmSync(userDataDir, { recursive: true, force: true })
      },
    }
  } catch (e) {
    rmSync(userDataDir, { recursive: true, force: true })
    throw e
  }
}
