import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { spawnBroker } from '@wxbroker/testkit'

// `pnpm demo` (= wxbroker demo): starts, its printed curl lines and SDK line work, Ctrl-C stops
// it cleanly.

/** Where the printed SDK line finds co-wechat-api (a devDependency of the broker). */
const BROKER_DIR = fileURLToPath(new URL('../..', import.meta.url))

/** Splits a shell line into words, honouring single quotes (the demo quotes everything it prints). */
function shellWords(line: string): string[] {
  const words: string[] = []
  let current = ''
  let inWord = false
  for (let i = 0; i < line.length; i++) {
    const ch = line[i] as string
    if (ch === "'") {
      const end = line.indexOf("'", i + 1)
      current += line.slice(i + 1, end)
      i = end
      inWord = true
    } else if (ch === '\\' && line[i + 1] !== undefined) {
      current += line[i + 1]
      i++
      inWord = true
    } else if (ch === ' ') {
      if (inWord) words.push(current)
      current = ''
      inWord = false
    } else {
      current += ch
      inWord = true
    }
  }
  if (inWord) words.push(current)
  return words
}

/** Runs a `curl -s [-X M] [-H h]... [-d body] URL` line with fetch. */
function curlToFetch(line: string): Promise<Response> {
  const words = shellWords(line)
  expect(words[0]).toBe('curl')
  let method = 'GET'
  const headers = new Headers()
  let body: string | undefined
  let url: string | undefined
  for (let i = 1; i < words.length; i++) {
    const w = words[i] as string
    if (w === '-s') continue
    else if (w === '-X') method = words[++i] as string
    else if (w === '-H') {
      const h = words[++i] as string
      const colon = h.indexOf(':')
      headers.set(h.slice(0, colon).trim(), h.slice(colon + 1).trim())
    } else if (w === '-d') body = words[++i]
    else if (w.startsWith('http')) url = w
    else throw new Error(`unexpected curl argument ${w} in: ${line}`)
  }
  if (!url) throw new Error(`no URL in: ${line}`)
  return fetch(url, { method, headers, ...(body === undefined ? {} : { body }) })
}

describe('wxbroker demo', () => {
  it('prints curl lines that work, and stops cleanly on Ctrl-C', async () => {
    const demo = spawnBroker(['demo', '--port', '0'])
    try {
      await demo.waitForLine((l) => l.startsWith('Ctrl-C stops the demo'))
      const curls = demo.stdout.filter((l) => l.startsWith('curl '))
      expect(curls).toHaveLength(5)
      const [tokenLine, loginLine, appsLine, metricsLine, gatewayLine] = curls as [
        string,
        string,
        string,
        string,
        string,
      ]

      const token = await curlToFetch(tokenLine)
      expect(token.status).toBe(200)
      const tokenBody = (await token.json()) as {
        appid: string
        access_token: string
        expires_in: number
      }
      expect(tokenBody.appid).toBe('wxdeadbeefcafe0001')
      expect(tokenBody.access_token.length).toBeGreaterThan(10)
      expect(tokenBody.expires_in).toBeGreaterThan(0)

      const login = await curlToFetch(loginLine)
      expect(login.status).toBe(200)
      const session = (await login.json()) as {
        openid: string
        session_key: string
        unionid?: string
      }
      expect(session.openid).toBe('o_demo_user_1')
      expect(session.unionid).toBe('u_demo_user_1')
      expect(session.session_key.length).toBeGreaterThan(0)

      const apps = await curlToFetch(appsLine)
      expect(apps.status).toBe(200)
      expect(
        ((await apps.json()) as { apps: { appid: string; state: string }[] }).apps
      ).toMatchObject([{ appid: 'wxdeadbeefcafe0001', state: 'ok' }])

      const metrics = await curlToFetch(metricsLine)
      expect(metrics.status).toBe(200)
      expect(await metrics.text()).toMatch(
        /^wxbroker_quota_used\{appid="wxdeadbeefcafe0001",api="\/cgi-bin\/stable_token"\} 1$/m
      )

      // The gateway: WeChat's own token answer, and a real SDK through it.
      const gateway = await curlToFetch(gatewayLine)
      expect(gateway.headers.get('content-type')).toBe('application/json; encoding=utf-8')
      expect(await gateway.text()).toMatch(/^\{"access_token":"[^"]+","expires_in":\d+\}$/)
      const sdkLines = demo.stdout.filter((l) => l.startsWith('node -e '))
      expect(sdkLines).toHaveLength(1)
      const [node, flag, script] = shellWords(sdkLines[0] as string) as [string, string, string]
      expect([node, flag]).toEqual(['node', '-e'])
      const sdk = await promisify(execFile)(process.execPath, ['-e', script], {
        cwd: BROKER_DIR,
        timeout: 10_000,
      })
      expect(sdk.stdout).toMatch(/^wxacode image: \d{3,} bytes\n$/)

      demo.proc.child.kill('SIGINT')
      expect(await demo.proc.exited).toBe(0)
    } finally {
      await demo.proc.stop('SIGKILL')
    }
  })
})
