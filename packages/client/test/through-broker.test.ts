/**
 * The whole path a service uses: MiniProgramClient → BrokerTokenProvider → the real wxbroker
 * daemon (`wxbroker serve`, one process for the file, in-memory store) → the WeChat simulator.
 * Counts come from the outside: the simulator's call log and the broker's /metrics.
 */
import { inspect } from 'node:util'
import { beforeEach, describe, expect, it } from 'vitest'
import { BrokerTokenProvider } from '../src/broker-token-provider.js'
import { MiniProgramClient } from '../src/mini-program-client.js'
import { SessionManager } from '../src/session/session-manager.js'
import { StaticTokenProvider } from '../src/token-provider.js'
import {
  API_KEY,
  APPID,
  READ_ONLY_KEY,
  SECRET,
  callCount,
  deadUrl,
  rejection,
  simToken,
  startStub,
  useSim,
} from './helpers/fixtures.js'
import { INVALIDATE_ROUTE, invalidationRefreshes, useRealBroker } from './helpers/real-broker.js'
import { recoverFromRetiredToken, service, type Service } from './helpers/token-recovery.js'
import { userDataVector } from './helpers/vectors.js'

const sim = useSim()
const broker = useRealBroker(() => ({ wechatUrl: sim().url }))

beforeEach(async () => {
  await sim().admin.clearFaults()
})

function serviceClient(apiKey = API_KEY): Service {
  return service([broker().url], sim().url, apiKey)
}

describe('token recovery through the real broker', () => {
  it('200 concurrent calls from 4 clients recover from a retired token with one retry each', async () => {
    const services = Array.from({ length: 4 }, () => serviceClient())
    const reportsBefore = await broker().requests(INVALIDATE_ROUTE)
    const refreshesBefore = await invalidationRefreshes(broker())
    const refreshedReports = (): Promise<number> =>
      broker().metric('wxbroker_invalidations_total', { appid: APPID, result: 'refreshed' })
    const refreshedBefore = await refreshedReports()
    const recovery = await recoverFromRetiredToken(sim(), services, 200)
    // Every call failed once with the retired token and succeeded once with the new one.
    expect(recovery.wechatCalls).toBe(400)
    // One report per client process; the broker refreshed once (compare-and-refresh).
    expect((await broker().requests(INVALIDATE_ROUTE)) - reportsBefore).toBe(4)
    // Concurrent reports of one token share one handling; exactly one of them refreshed.
    expect((await refreshedReports()) - refreshedBefore).toBe(1)
    expect((await invalidationRefreshes(broker())) - refreshesBefore).toBe(1)
    expect(recovery.upstreamRefreshes).toBe(1)
    expect(new Set(recovery.fresh).size).toBe(1)
    expect(recovery.fresh[0]).not.toBe(recovery.retired)
    expect((await sim().admin.checkToken(recovery.fresh[0]!)).valid).toBe(true)
  })

  it('surfaces the second token error instead of looping', async () => {
    const { tokens, client } = serviceClient()
    await tokens.getToken()
    const endpoint = '/wxa/generatescheme'
    await sim().admin.addFault({ endpoint, errcode: 40001, times: -1 })
    const before = await callCount(sim(), endpoint)
    const reportsBefore = await broker().requests(INVALIDATE_ROUTE)
    const error = await rejection(client.urlScheme.generate({}))
    expect(error).toMatchObject({ name: 'WeChatApiError', errcode: 40001 })
    expect((await callCount(sim(), endpoint)) - before).toBe(2)
    expect((await broker().requests(INVALIDATE_ROUTE)) - reportsBefore).toBe(1)
  })

  it("throws WeChat's error with the failed report as its cause when the broker refuses", async () => {
    const { tokens, client } = serviceClient(READ_ONLY_KEY)
    await tokens.getToken()
    await sim().admin.retireToken(APPID, 'stable')
    const error = await rejection(client.urlScheme.generate({}))
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
    // A broker answering 500 with a body that echoes the key: only the stub can be made to.
    const stub = await startStub(sim())
    try {
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
    } finally {
      await stub.close()
    }
    // The real broker's own error answers: an unknown key, and a login code used twice.
    errors.push(
      await rejection(
        new BrokerTokenProvider({
          baseUrl: broker().url,
          apiKey: `${API_KEY}-wrong`,
          appid: APPID,
        }).getToken()
      )
    )
    await sim().admin.registerLoginCode({
      appid: APPID,
      code: 'secret-code',
      openid: 'o-secret',
      sessionKey,
    })
    const tokens = new BrokerTokenProvider({ baseUrl: broker().url, apiKey: API_KEY, appid: APPID })
    expect((await tokens.code2Session('secret-code')).session_key).toBe(sessionKey)
    errors.push(await rejection(tokens.code2Session('secret-code')))
    expect(errors.map((e) => e.name)).toEqual([
      'WeChatApiError',
      'TransportError',
      'TransportError',
      'WeChatApiError',
      'TransportError',
      'TransportError',
      'BrokerError',
      'BrokerError',
    ])
    for (const error of errors) {
      const text = `${error.message}\n${inspect(error, { depth: 10 })}\n${JSON.stringify(error)}`
      for (const secret of [token, SECRET, sessionKey, API_KEY]) expect(text).not.toContain(secret)
    }
  })
})
