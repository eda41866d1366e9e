import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { SimAdmin, startSimulator } from '../src/index.js'
import { APPID, SECRET, classicToken, expectWxError, useSimulator, wxGet } from './support.js'

const ctx = useSimulator()

describe('faults', () => {
  it('errcode: the next N calls get the forced errcode, then the endpoint answers normally', async () => {
    await ctx.sim.admin.addFault({
      endpoint: '/cgi-bin/token',
      type: 'errcode',
      errcode: -1,
      times: 2,
    })
    expectWxError(await classicToken(ctx.sim), -1)
    expectWxError(await classicToken(ctx.sim), -1)
    expect((await classicToken(ctx.sim)).body.access_token).toBeDefined()
    expect((await ctx.sim.admin.calls())['/cgi-bin/token']).toBe(3)
  })

  it('errcode with errmsg; times -1 lasts until cleared; faults only hit their endpoint', async () => {
    const { admin } = ctx.sim
    await admin.addFault({
      endpoint: '/cgi-bin/token',
      errcode: 45011,
      errmsg: 'slow down',
      times: -1,
    })
    for (let i = 0; i < 3; i++)
      expect(expectWxError(await classicToken(ctx.sim), 45011)).toMatch(/^slow down rid: /)
    expectWxError(
      await wxGet(ctx.sim, '/sns/jscode2session', {
        appid: APPID,
        secret: SECRET,
        grant_type: 'authorization_code',
        js_code: 'x',
      }),
      40029
    )
    expect(await admin.faults()).toHaveLength(1)
    await admin.clearFaults()
    expect((await classicToken(ctx.sim)).body.access_token).toBeDefined()
  })

  it("'*' matches every endpoint; faults apply in the order added", async () => {
    const { admin } = ctx.sim
    await admin.addFault({ endpoint: '*', errcode: 40125 })
    await admin.addFault({ endpoint: '/cgi-bin/token', errcode: 45009 })
    expectWxError(await wxGet(ctx.sim, '/wxa/checksession'), 40125)
    expectWxError(await classicToken(ctx.sim), 45009)
    expect((await classicToken(ctx.sim)).body.access_token).toBeDefined()
  })

  it('latency delays the answer by real milliseconds (and may combine with an outcome)', async () => {
    await ctx.sim.admin.addFault({ endpoint: '/cgi-bin/token', type: 'latency', ms: 300 })
    let started = performance.now()
    expect((await classicToken(ctx.sim)).body.access_token).toBeDefined()
    expect(performance.now() - started).toBeGreaterThanOrEqual(290)
    await ctx.sim.admin.addFault({ endpoint: '/cgi-bin/token', latency: 200, errcode: -1 })
    started = performance.now()
    expectWxError(await classicToken(ctx.sim), -1)
    expect(performance.now() - started).toBeGreaterThanOrEqual(190)
    // Both faults are spent: the next call is answered normally.
    expect(await ctx.sim.admin.faults()).toEqual([])
    expect((await classicToken(ctx.sim)).body.access_token).toBeDefined()
  })

  it('holdAfterMs: WeChat acts at once (the token is issued), the answer comes later', async () => {
    const { admin } = ctx.sim
    await admin.addFault({ endpoint: '/cgi-bin/token', holdAfterMs: 400 })
    const started = performance.now()
    const pending = classicToken(ctx.sim)
    // The token exists at the simulator while the caller still waits for it.
    await expect
      .poll(async () => (await admin.tokens(APPID, 'classic')).current, { interval: 20 })
      .not.toBeNull()
    expect(performance.now() - started).toBeLessThan(390)
    const { body } = await pending
    expect(performance.now() - started).toBeGreaterThanOrEqual(390)
    expect(body.access_token).toBe((await admin.tokens(APPID, 'classic')).current)
    await expect(
      admin.addFault({ endpoint: '/cgi-bin/token', holdAfterMs: 10, errcode: -1 })
    ).rejects.toThrow(/holdAfterMs holds a real answer/)
  })

  it('http_status answers with that status and a non-JSON body', async () => {
    await ctx.sim.admin.addFault({ endpoint: '/cgi-bin/token', status: 502 })
    const res = await fetch(`${ctx.sim.url}/cgi-bin/token`)
    expect(res.status).toBe(502)
    const text = await res.text()
    expect(() => JSON.parse(text) as unknown).toThrow()
    await ctx.sim.admin.addFault({
      endpoint: '/cgi-bin/token',
      type: 'http_status',
      status: 503,
      body: 'busy',
    })
    const second = await fetch(`${ctx.sim.url}/cgi-bin/token`)
    expect([second.status, await second.text()]).toEqual([503, 'busy'])
  })

  it('http_status with location answers a redirect (the call log shows it)', async () => {
    await ctx.sim.admin.addFault({
      endpoint: '/wxa/msg_sec_check',
      status: 302,
      location: 'http://elsewhere.invalid/steal',
      body: '',
    })
    const res = await fetch(`${ctx.sim.url}/wxa/msg_sec_check`, {
      method: 'POST',
      redirect: 'manual',
    })
    expect([res.status, res.headers.get('location')]).toEqual([
      302,
      'http://elsewhere.invalid/steal',
    ])
    expect((await ctx.sim.admin.callLog()).at(-1)).toMatchObject({
      endpoint: '/wxa/msg_sec_check',
      status: 302,
      fault: 'http_status',
    })
    await expect(
      ctx.sim.admin.addFault({ endpoint: '/x', errcode: -1, location: '/y' })
    ).rejects.toThrow(/location goes with status/)
  })

  it('removeFault takes one pending fault away and leaves the others', async () => {
    const { admin } = ctx.sim
    const first = await admin.addFault({ endpoint: '/cgi-bin/token', errcode: 45009, times: -1 })
    await admin.addFault({ endpoint: '/cgi-bin/stable_token', errcode: -1 })
    expect(await admin.removeFault(first)).toBe(true)
    expect(await admin.removeFault(first)).toBe(false)
    expect((await admin.faults()).map((f) => f.endpoint)).toEqual(['/cgi-bin/stable_token'])
    expect((await classicToken(ctx.sim)).body.access_token).toBeDefined()
  })

  it('drop destroys the connection without a response', async () => {
    await ctx.sim.admin.addFault({ endpoint: '/cgi-bin/token', drop: true })
    const error = await classicToken(ctx.sim).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError) // fetch failed: socket closed without a response
    expect((await classicToken(ctx.sim)).body.access_token).toBeDefined()
    const log = await ctx.sim.admin.callLog()
    expect(log[0]).toMatchObject({
      endpoint: '/cgi-bin/token',
      errcode: null,
      status: 0,
      fault: 'drop',
    })
  })

  it('rejects malformed faults with a 400 naming the problem', async () => {
    const { admin } = ctx.sim
    await expect(admin.addFault({ endpoint: 'cgi-bin/token', errcode: -1 })).rejects.toThrow(
      /endpoint/
    )
    await expect(admin.addFault({ endpoint: '/x' })).rejects.toThrow(/needs latency/)
    await expect(admin.addFault({ endpoint: '/x', type: 'errcode', ms: 5 })).rejects.toThrow(
      /errcode/
    )
    await expect(admin.addFault({ endpoint: '/x', errcode: -1, times: 0 })).rejects.toThrow(/times/)
    await expect(admin.addFault({ endpoint: '/x', errcode: -1, drop: true })).rejects.toThrow(
      /at most one/
    )
  })
})

describe('admin', () => {
  it('the clock: set and advance move the offset while real time keeps flowing', async () => {
    const { admin } = ctx.sim
    const target = Date.UTC(2031, 5, 1)
    expect(await admin.setClock(target)).toBeGreaterThanOrEqual(target)
    await new Promise((r) => setTimeout(r, 50))
    const later = await admin.now()
    expect(later - target).toBeGreaterThanOrEqual(45)
    expect(later - target).toBeLessThan(1000)
    expect((await admin.advanceClock(60_000)) - later).toBeGreaterThanOrEqual(60_000)
    await admin.reset()
    expect(Math.abs((await admin.now()) - Date.now())).toBeLessThan(1000)
  })

  it('call counts and a call log per endpoint, never with the secret or the token', async () => {
    const { admin } = ctx.sim
    await admin.setClock(Date.UTC(2031, 0, 1))
    const token = (await classicToken(ctx.sim)).body.access_token as string
    await classicToken(ctx.sim, APPID, 'wrong-secret')
    await wxGet(ctx.sim, '/wxa/checksession', { access_token: token })
    await wxGet(ctx.sim, '/no/such/api')
    expect(await admin.calls()).toEqual({
      '/cgi-bin/token': 2,
      '/wxa/checksession': 1,
      '/no/such/api': 1,
    })
    const log = await admin.callLog()
    expect(log.map((e) => [e.method, e.endpoint, e.appid, e.errcode])).toEqual([
      ['GET', '/cgi-bin/token', APPID, 0],
      ['GET', '/cgi-bin/token', APPID, 40125],
      ['GET', '/wxa/checksession', APPID, 40097],
      ['GET', '/no/such/api', null, 48001],
    ])
    expect(log[0]!.at).toBeGreaterThanOrEqual(Date.UTC(2031, 0, 1))
    const text = JSON.stringify(log)
    for (const secret of [SECRET, 'wrong-secret', token]) expect(text).not.toContain(secret)
  })

  it('unknown paths get a WeChat JSON error, not an HTML 404', async () => {
    expectWxError(await wxGet(ctx.sim, '/cgi-bin/nothing-here'), 48001)
  })

  it('reset clears apps, tokens, codes, faults, counts and the clock, keeping start-up apps', async () => {
    const { admin } = ctx.sim
    await admin.registerApp({ appid: 'wxextra', secret: 's' })
    const token = (await classicToken(ctx.sim)).body.access_token as string
    await admin.addFault({ endpoint: '/x', errcode: -1, times: -1 })
    await admin.advanceClock(86_400_000)
    await admin.reset()
    expect(await admin.calls()).toEqual({})
    expect(await admin.callLog()).toEqual([])
    expect(await admin.faults()).toEqual([])
    expect((await admin.checkToken(token)).valid).toBe(false)
    expectWxError(await classicToken(ctx.sim, 'wxextra', 's'), 40013)
    expect((await classicToken(ctx.sim)).body.access_token).toBeDefined()
  })

  it('bad admin input → 400 naming the field', async () => {
    const { admin } = ctx.sim
    await expect(admin.registerApp({ appid: '', secret: 's' })).rejects.toThrow(/appid/)
    await expect(
      admin.registerApp({ appid: 'a', secret: 's', tokenExpiresIn: -5 })
    ).rejects.toThrow(/tokenExpiresIn/)
    await expect(admin.tokens(APPID, 'weird' as 'stable')).rejects.toThrow(/classic or stable/)
    const res = await fetch(`${ctx.sim.url}/__sim/apps`, { method: 'POST', body: 'nope' })
    expect(res.status).toBe(400)
    expect(await res.json()).toEqual({ error: 'the request body must be JSON' })
    expect((await fetch(`${ctx.sim.url}/__sim/nothing`)).status).toBe(404)
  })

  it('close() resolves quickly with idle keep-alive and in-flight (delayed) connections', async () => {
    const sim = await startSimulator({ apps: [{ appid: APPID, secret: SECRET }] })
    await classicToken(sim) // leaves an idle keep-alive socket
    await sim.admin.addFault({ endpoint: '/cgi-bin/token', latency: 10_000 })
    const hanging = classicToken(sim).catch((e: unknown) => e)
    await new Promise((r) => setTimeout(r, 100))
    const started = performance.now()
    await sim.close()
    expect(performance.now() - started).toBeLessThan(2000) // not the fault's 10 s
    expect(await hanging).toBeInstanceOf(Error)
    // The port is free again.
    await new Promise<void>((resolve, reject) => {
      const probe = createServer().once('error', reject)
      probe.listen(sim.port, '127.0.0.1', () => probe.close(() => resolve()))
    })
  })

  it('registerApp answers the settings with defaults, never the secret; re-registering keeps tokens', async () => {
    const { admin } = ctx.sim
    const view = await admin.registerApp({ appid: 'wxnew', secret: 'hidden-secret' })
    expect(view).toEqual({
      appid: 'wxnew',
      tokenExpiresIn: 7200,
      tokenOverlapSeconds: 300,
      dailyTokenQuota: 2000,
      forceRefreshDailyLimit: 20,
      unionBound: false,
      ipAllowList: null,
      loginRatePerMinute: 100,
      qrcodeLifetimeLimit: 100_000,
    })
    const token = (await classicToken(ctx.sim, 'wxnew', 'hidden-secret')).body
      .access_token as string
    await admin.registerApp({ appid: 'wxnew', secret: 'rotated', tokenExpiresIn: 60 })
    expect((await admin.checkToken(token)).valid).toBe(true)
    expectWxError(await classicToken(ctx.sim, 'wxnew', 'hidden-secret'), 40125)
    expect((await classicToken(ctx.sim, 'wxnew', 'rotated')).body.expires_in).toBe(60)
    expect(await admin.tokens('wxnobody', 'stable')).toEqual({ current: null, all: [] })
  })

  it('SimAdmin works from just the URL (trailing slash tolerated)', async () => {
    const admin = new SimAdmin(`${ctx.sim.url}/`)
    expect(await admin.calls()).toEqual({})
  })
})
