/** The runnable example in examples/ really runs: spawned through tsx against the real broker. */
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort } from '@wxbroker/testkit'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { API_KEY, APPID, useSim } from './helpers/fixtures.js'
import { useRealBroker } from './helpers/real-broker.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))

const sim = useSim()
const broker = useRealBroker(() => ({ wechatUrl: sim().url }))
let child: ChildProcess
let base: string

beforeAll(async () => {
  const port = await freePort()
  base = `http://127.0.0.1:${port}`
  child = spawn(process.execPath, ['--import', 'tsx', 'examples/login-and-notify.ts'], {
    cwd: root,
    env: {
      ...process.env,
      TSX_TSCONFIG_PATH: 'examples/tsconfig.json',
      BROKER_URL: broker().url,
      WXBROKER_KEY: API_KEY,
      APPID,
      WECHAT_BASE_URL: sim().url,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()))
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString()
      if (output.includes('listening on')) resolve()
    })
    child.on('exit', (code) => reject(new Error(`example exited with ${code}:\n${output}`)))
  })
})

afterAll(async () => {
  if (child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
})

describe('examples/login-and-notify.ts', () => {
  it('logs in, sends a subscribe message, and maps WeChat errors to 422', async () => {
    await sim().admin.registerLoginCode({ appid: APPID, code: 'example-code', openid: 'o-example' })
    await sim().admin.registerTemplate({
      appid: APPID,
      templateId: 'tpl-example',
      fields: { thing1: 'thing', date2: 'date' },
    })
    await sim().admin.grantSubscription({
      appid: APPID,
      openid: 'o-example',
      templateId: 'tpl-example',
      count: 1,
    })
    const login = await fetch(`${base}/login?code=example-code`)
    expect(login.status).toBe(200)
    const body = (await login.json()) as { sessionId: string; openid: string }
    expect(body.openid).toBe('o-example')
    expect(JSON.stringify(body)).not.toContain('session_key')

    const notify = (): Promise<Response> =>
      fetch(`${base}/notify?template=tpl-example`, {
        method: 'POST',
        headers: { 'x-session-id': body.sessionId },
      })
    expect((await notify()).status).toBe(200)
    const second = await notify()
    expect(second.status).toBe(422)
    expect(await second.json()).toMatchObject({ errcode: 43101 })
    expect((await fetch(`${base}/notify`, { method: 'POST' })).status).toBe(401)
  })
})
