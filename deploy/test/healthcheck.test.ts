import { execFile } from 'node:child_process'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deployPath } from '../src/paths.js'

// The image's HEALTHCHECK script, run as the container runs it, against real HTTP servers.

const script = deployPath('docker', 'healthcheck.mjs')
let status = 200
let requested: string[] = []
const server = createServer((req, res) => {
  requested.push(req.url ?? '')
  res.writeHead(status).end()
})
let port = 0

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  port = (server.address() as AddressInfo).port
})
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())))

async function healthcheck(env: Record<string, string>): Promise<number> {
  try {
    await promisify(execFile)(process.execPath, [script], {
      env: { PATH: process.env.PATH ?? '', ...env },
    })
    return 0
  } catch (e) {
    return (e as { code?: number }).code ?? -1
  }
}

describe('container health check', () => {
  it('passes on a 2xx from /healthz on the port WXBROKER_LISTEN_PORT names', async () => {
    status = 200
    requested = []
    expect(await healthcheck({ WXBROKER_LISTEN_PORT: String(port) })).toBe(0)
    expect(requested).toEqual(['/healthz'])
  })

  it('fails on an error status', async () => {
    status = 503
    expect(await healthcheck({ WXBROKER_LISTEN_PORT: String(port) })).toBe(1)
  })

  it('fails when nothing listens', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const freePort = (closed.address() as AddressInfo).port
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    expect(await healthcheck({ HEALTHCHECK_URL: `http://127.0.0.1:${freePort}/healthz` })).toBe(1)
  })
})
