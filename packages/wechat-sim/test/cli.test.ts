import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { SimAdmin } from '../src/index.js'

const BIN = fileURLToPath(new URL('../bin/wechat-sim.js', import.meta.url))
let child: ChildProcess | undefined

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  child = undefined
})

function run(args: string[]): {
  proc: ChildProcess
  url: Promise<string>
  exit: Promise<number | null>
  stderr: () => string
} {
  const proc = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  child = proc
  let out = ''
  let err = ''
  proc.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const url = new Promise<string>((resolve, reject) => {
    proc.stdout.on('data', (d: Buffer) => {
      out += d.toString()
      const match = /listening on (http:\/\/\S+)/.exec(out)
      if (match) resolve(match[1]!)
    })
    proc.once('exit', () => reject(new Error(`exited before listening: ${err}`)))
  })
  url.catch(() => undefined) // awaited only by tests that expect it to start
  const exit = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)))
  return { proc, url, exit, stderr: () => err }
}

describe('wechat-sim CLI', () => {
  it('serves the registered apps, is driven by SimAdmin from this process, stops on SIGTERM', async () => {
    const { proc, url, exit } = run([
      '--port',
      '0',
      '--app',
      'wxcli1:secret1',
      '--app',
      'wxcli2:s:2',
    ])
    const base = await url
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    const res = await fetch(
      `${base}/cgi-bin/token?grant_type=client_credential&appid=wxcli2&secret=s:2`
    )
    const body = (await res.json()) as { access_token: string }
    const admin = new SimAdmin(base)
    expect(await admin.checkToken(body.access_token)).toMatchObject({
      valid: true,
      appid: 'wxcli2',
    })
    expect((await admin.calls())['/cgi-bin/token']).toBe(1)
    proc.kill('SIGTERM')
    expect(await exit).toBe(0)
  })

  it('stops on SIGINT', async () => {
    const { proc, url, exit } = run(['--port', '0'])
    await url
    proc.kill('SIGINT')
    expect(await exit).toBe(0)
  })

  it('rejects bad arguments with exit code 2 and a hint', async () => {
    const missing = run([])
    expect(await missing.exit).toBe(2)
    expect(missing.stderr()).toContain('--port is required')
    const badApp = run(['--port', '0', '--app', 'nosecret'])
    expect(await badApp.exit).toBe(2)
    expect(badApp.stderr()).toContain('APPID:SECRET')
  })
})
