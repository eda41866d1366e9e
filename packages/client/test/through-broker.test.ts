/**
 * The whole path a service uses: MiniProgramClient → BrokerTokenProvider → broker (the stub in
 * helpers/broker-stub.ts, backed by the simulator) → simulator.
 */
import { inspect } from 'node:util'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { BrokerTokenProvider } from '../src/broker-token-provider.js'
import { MiniProgramClient } from '../src/mini-program-client.js'
import { SessionManager } from '../src/session/session-manager.js'
import { StaticTokenProvider } from '../src/token-provider.js'
import type { BrokerStub } from './helpers/broker-stub.js'
import {
  API_KEY,
  APPID,
  READ_ONLY_KEY,
  SECRET,
  callCount,
  deadUrl,
  rejection,
  simToken,
  useSim,
  startStub,
} from './helpers/fixtures.js'
import { userDataVector } from './helpers/vectors.js'

const sim = useSim()
let stub: BrokerStub

beforeEach(async () => {
  await sim().admin.clearFaults()
  await stub?.close()
  stub = await startStub(sim())
})
afterAll(async () => {
  await stub.close()
})

function serviceClient(): {
  tokens: BrokerTokenProvider
  client: MiniProgramClient
} {
  const tokens = new BrokerTokenProvider({
    baseUrl: stub.url,
    apiKey: API_KEY,
    appid: APPID,
  })
  const client = new MiniProgramClient({
    appid: APPID,
    tokens,
    baseUrl: sim().url,
    retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 20 },
  })
  return { tokens, client }
}

describe('token recovery through the broker', () => {
  it('200 concurrent calls from 4 clients recover from a retired token with one retry each', async () => {
    const services = Array.from({ length: 4 }, serviceClient)
    await Promise.all(services.map((s) => s.tokens.getToken()))
    const retired = stub.current(APPID)!
    const refreshesBefore = stub.counts.refreshes
    await sim().admin.retireToken(APPID, 'classic')
    expect((await sim().admin.checkToken(retired)).valid).toBe(false)

    const endpoint = '/cgi-bin/openapi/quota/get'
    const before = await callCount(sim(), endpoint)
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        services[i % services.length]!.client.openApi.getApiQuota('/cgi-bin/token')
      )
    )
    expect(results).toHaveLength(200)
    // Every call failed once with the retired token and succeeded once with the new one.
    expect(await callCount(sim(), endpoint)).toBe(before + 400)
    // One report per client process; the broker refreshed once (compare-and-set).
    expect(stub.counts.invalidate).toBe(4)
    expect(stub.counts.refreshes).toBe(refreshesBefore + 1)
    const fresh = stub.current(APPID)!
    expect(fresh).not.toBe(retired)
    for (const s of services) expect(await s.tokens.getToken()).toBe(fresh)
  })

  it('surfaces the second token error instead of looping', async () => {
    const { tokens, client } = serviceClient()
    await tokens.getToken()
    const endpoint = '/cgi-bin/openapi/quota/get'
    await sim().admin.addFault({ endpoint, errcode: 40001, times: -1 })
    const before = await callCount(sim(), endpoint)
    const error = await rejection(client.openApi.getApiQuota('/cgi-bin/token'))
    expect(error).toMatchObject({ name: 'WeChatApiError', errcode: 40001 })
    expect(await callCount(sim(), endpoint)).toBe(before + 2)
    expect(stub.counts.invalidate).toBe(1)
  })
  it("throws WeChat's error with the failed report as its cause when the broker refuses", async () => {
    const tokens = new BrokerTokenProvider({
      baseUrl: stub.url,
      apiKey: READ_ONLY_KEY,
      appid: APPID,
    })
    const client = new MiniProgramClient({ appid: APPID, tokens, baseUrl: sim().url })
    await tokens.getToken()
    await sim().admin.retireToken(APPID, 'classic')
    const error = await rejection(client.openApi.getApiQuota('/cgi-bin/token'))
    expect(error).toMatchObject({ name: 'WeChatApiError', errcode: 40001 })
    expect(error.cause).toMatchObject({ name: 'BrokerError', status: 403, code: 'forbidden' })
  })
})

describe('SessionManager through the broker', () => {
  it('logs a user in with a wx.login code and never hands out session_key', async () => {
    await sim().admin.registerLoginCode({
      appid: APPID,
      code: 'login-1',
      openid: 'o-login',
      unionid: 'u-login',
      sessionKey: userDataVector.sessionKey,
    })
    const { client } = serviceClient()
    const sessions = new SessionManager({ client })
    const login = await sessions.login('login-1')
    expect(login).toMatchObject({ openid: 'o-login', unionid: 'u-login' })
    expect(JSON.stringify(login)).not.toContain(userDataVector.sessionKey)
    expect(JSON.stringify(await sessions.get(login.sessionId))).not.toContain(
      userDataVector.sessionKey
    )
    expect(await sessions.checkSessionKey(login.sessionId)).toBe(true)
    await expect(sessions.login('login-1')).rejects.toMatchObject({
      status: 409,
      code: 'code_used',
      errcode: 40163,
    })
  })
})

describe('secrets never appear in errors', () => {
  it('keeps tokens, the app secret, session keys and the client key out of every error', async () => {
    const token = await simToken(sim())
    const sessionKey = Buffer.alloc(16, 3).toString('base64')
    await sim().admin.registerUser({
      appid: APPID,
      openid: 'o-secret',
      sessionKey,
    })
    const dead = await deadUrl()
    const staticClient = (baseUrl = sim().url): MiniProgramClient =>
      new MiniProgramClient({
        appid: APPID,
        tokens: new StaticTokenProvider(token),
        baseUrl,
        timeoutMs: 100,
        retry: { retries: 0 },
      })
    const errors: Error[] = []
    await sim().admin.addFault({
      endpoint: '/wxa/resetusersessionkey',
      errcode: 87007,
      times: 1,
    })
    errors.push(
      await rejection(
        staticClient().auth.resetUserSessionKey({
          openid: 'o-secret',
          sessionKey,
        })
      )
    )
    errors.push(await rejection(staticClient(dead).phone.getPhoneNumber('x')))
    await sim().admin.addFault({
      endpoint: '/wxa/msg_sec_check',
      latency: 1000,
      times: 1,
    })
    errors.push(
      await rejection(
        staticClient().security.msgSecCheck({
          content: 'x',
          scene: 1,
          openid: 'o-secret',
        })
      )
    )
    await sim().admin.retireToken(APPID, 'classic')
    errors.push(await rejection(staticClient().openApi.getApiQuota('/cgi-bin/token')))
    errors.push(
      await rejection(
        new BrokerTokenProvider({
          baseUrl: dead,
          apiKey: API_KEY,
          appid: APPID,
          retry: { retries: 0 },
        }).getToken()
      )
    )
    stub.inject({ status: 500, body: `oops ${API_KEY}` })
    errors.push(
      await rejection(
        new BrokerTokenProvider({
          baseUrl: stub.url,
          apiKey: API_KEY,
          appid: APPID,
          retry: { retries: 0 },
        }).getToken()
      )
    )
    expect(errors.map((e) => e.name)).toEqual([
      'WeChatApiError',
      'TransportError',
      'TransportError',
      'WeChatApiError',
      'TransportError',
      'TransportError',
    ])
    for (const error of errors) {
      const text = `${error.message}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`
      for (const secret of [token, SECRET, sessionKey, API_KEY]) expect(text).not.toContain(secret)
    }
  })
})
