import { request, type ClientRequest } from 'node:http'
import { describe, expect, it } from 'vitest'
import { startSimulator, type Simulator } from '../src/index.js'
import { APPID, SECRET, classicToken, useSimulator } from './support.js'

const ctx = useSimulator()

interface Pending {
  req: ClientRequest
  /** The caller's side of the connection, known once it is connected. */
  localPort: Promise<number>
  /** The body, or the error when the connection ends without one. */
  answer: Promise<string>
}

/** A token request over a fresh connection, so that its local port is known. */
function tokenRequest(sim: Simulator): Pending {
  const query = new URLSearchParams({
    grant_type: 'client_credential',
    appid: APPID,
    secret: SECRET,
  })
  let onPort!: (port: number) => void
  const localPort = new Promise<number>((resolve) => (onPort = resolve))
  let req!: ClientRequest
  const answer = new Promise<string>((resolve, reject) => {
    req = request(`${sim.url}/cgi-bin/token?${query.toString()}`, { agent: false }, (res) => {
      let body = ''
      res.on('data', (chunk: Buffer) => (body += chunk.toString()))
      res.on('end', () => resolve(body))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.on('socket', (socket) => socket.on('connect', () => onPort(socket.localPort!)))
    req.end()
  })
  answer.catch(() => undefined)
  return { req, localPort, answer }
}

async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 5000
  for (;;) {
    const value = await read()
    if (ok(value) || Date.now() > deadline) return value
    await new Promise((r) => setTimeout(r, 20))
  }
}

describe('held(): the answers a holdAfterMs fault is holding, with the caller named by its port', () => {
  it('the token is issued and counted at once; the caller gets it only after the hold', async () => {
    const { admin } = ctx.sim
    await admin.addFault({ endpoint: '/cgi-bin/token', holdAfterMs: 600 })
    const started = performance.now()
    const pending = tokenRequest(ctx.sim)
    const held = await eventually(
      () => admin.held(),
      (h) => h.length === 1
    )
    // Issued (and counted) while the caller still waits: the state a crash mid-refresh leaves.
    expect((await admin.tokens(APPID, 'classic')).all).toHaveLength(1)
    expect(held[0]).toMatchObject({
      endpoint: '/cgi-bin/token',
      appid: APPID,
      remotePort: await pending.localPort,
      holdAfterMs: 600,
    })
    const body = JSON.parse(await pending.answer) as { access_token: string }
    expect(performance.now() - started).toBeGreaterThanOrEqual(590)
    expect((await admin.tokens(APPID, 'classic')).current).toBe(body.access_token)
    expect(await admin.held()).toEqual([])
    expect((await admin.callLog())[0]).toMatchObject({ status: 200, errcode: 0, fault: 'hold' })
    // Spent: the next call is answered at once.
    expect((await classicToken(ctx.sim)).body.access_token).toBeDefined()
  })

  it('a caller that goes away during the hold leaves the token issued and the call logged as answered', async () => {
    const { admin } = ctx.sim
    await admin.addFault({ endpoint: '/cgi-bin/token', holdAfterMs: 300 })
    const pending = tokenRequest(ctx.sim)
    await eventually(
      () => admin.held(),
      (h) => h.length === 1
    )
    pending.req.destroy()
    await expect(pending.answer).rejects.toThrow()
    await eventually(
      () => admin.held(),
      (h) => h.length === 0
    )
    expect(await admin.held()).toEqual([])
    expect((await admin.tokens(APPID, 'classic')).all).toHaveLength(1)
    expect(await admin.callLog()).toMatchObject([
      { endpoint: '/cgi-bin/token', status: 200, errcode: 0, fault: 'hold' },
    ])
  })

  it('close() ends a hold at once', async () => {
    const sim = await startSimulator({ apps: [{ appid: APPID, secret: SECRET }] })
    await sim.admin.addFault({ endpoint: '/cgi-bin/token', holdAfterMs: 10_000 })
    const pending = tokenRequest(sim)
    await eventually(
      () => sim.admin.held(),
      (h) => h.length === 1
    )
    const started = performance.now()
    await sim.close()
    expect(performance.now() - started).toBeLessThan(2000)
    await expect(pending.answer).rejects.toThrow()
  })
})
