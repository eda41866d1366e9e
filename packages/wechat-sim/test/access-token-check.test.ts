import { describe, expect, it } from 'vitest'
import {
  APPID,
  accessToken,
  classicToken,
  expectWxError,
  signature,
  useSimulator,
  wxGet,
} from './support.js'

const ctx = useSimulator()

/** A token-authenticated call that succeeds whenever the token is accepted. */
async function call(token: string | undefined) {
  const q: Record<string, string> = {
    openid: 'o1',
    sig_method: 'hmac_sha256',
    signature: signature('k'),
  }
  if (token !== undefined) q.access_token = token
  return wxGet(ctx.sim, '/wxa/checksession', q)
}

describe('access_token checks at the moment of the call', () => {
  it('missing → 41001, unknown → 40001, retired → 40001, naturally expired → 42001', async () => {
    const { admin } = ctx.sim
    await admin.registerUser({ appid: APPID, openid: 'o1', sessionKey: 'k' })
    expectWxError(await call(undefined), 41001)
    expectWxError(await call(''), 41001)
    expectWxError(await call('not-a-token'), 40001)

    const first = await accessToken(ctx.sim)
    expect((await call(first)).body.errcode).toBe(0)
    await classicToken(ctx.sim)
    await admin.advanceClock(301_000)
    expectWxError(await call(first), 40001)

    const second = (await admin.tokens(APPID, 'classic')).current!
    expect((await call(second)).body.errcode).toBe(0)
    await admin.advanceClock(7200_000)
    expectWxError(await call(second), 42001)
  })

  it('reads access_token only from the query string', async () => {
    await ctx.sim.admin.registerUser({ appid: APPID, openid: 'o1', sessionKey: 'k' })
    const token = await accessToken(ctx.sim)
    const res = await fetch(
      `${ctx.sim.url}/wxa/checksession?openid=o1&sig_method=hmac_sha256&signature=${signature('k')}`,
      {
        headers: { authorization: `Bearer ${token}` },
      }
    )
    expect(((await res.json()) as { errcode: number }).errcode).toBe(41001)
  })

  it('an admin retire makes the current token fail with 40001 at once', async () => {
    await ctx.sim.admin.registerUser({ appid: APPID, openid: 'o1', sessionKey: 'k' })
    const token = await accessToken(ctx.sim)
    await ctx.sim.admin.retireToken(APPID, 'classic')
    expectWxError(await call(token), 40001)
    expect((await ctx.sim.admin.tokens(APPID, 'classic')).current).toBeNull()
    expect(await ctx.sim.admin.checkToken(token)).toMatchObject({ valid: false, errcode: 40001 })
  })
})
