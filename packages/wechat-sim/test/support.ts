import { createHmac } from 'node:crypto'
import { afterAll, beforeAll, beforeEach, expect } from 'vitest'
import { startSimulator, type Simulator } from '../src/index.js'

export const APPID = 'wx1234567890abcdef'
export const SECRET = 'test-secret-0123456789abcdef'
export const RID = / rid: [0-9a-f]{8}-[0-9a-f]{8}-[0-9a-f]{8}$/

export interface WxResponse {
  status: number
  contentType: string | null
  body: Record<string, unknown>
}

/** One simulator per test file, reset before each test. */
export function useSimulator(): { sim: Simulator } {
  const holder = {} as { sim: Simulator }
  beforeAll(async () => {
    holder.sim = await startSimulator({ apps: [{ appid: APPID, secret: SECRET }] })
  })
  beforeEach(async () => {
    await holder.sim.admin.reset()
  })
  afterAll(async () => {
    await holder.sim?.close()
  })
  return holder
}

async function toWx(res: Response): Promise<WxResponse> {
  const text = await res.text()
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    body: JSON.parse(text) as Record<string, unknown>,
  }
}

export async function wxGet(sim: Simulator, path: string, query: Record<string, string> = {}) {
  return toWx(await fetch(`${sim.url}${path}?${new URLSearchParams(query).toString()}`))
}

export async function wxPost(
  sim: Simulator,
  path: string,
  body: unknown,
  query: Record<string, string> = {}
): Promise<WxResponse> {
  return toWx(
    await fetch(`${sim.url}${path}?${new URLSearchParams(query).toString()}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    })
  )
}

/** Asserts WeChat's error shape: HTTP 200, JSON, the errcode, and an errmsg ending in a rid. */
export function expectWxError(res: WxResponse, errcode: number): string {
  expect(res.status).toBe(200)
  expect(res.contentType).toBe('application/json; encoding=utf-8')
  expect(res.body.errcode).toBe(errcode)
  expect(res.body.errmsg).toMatch(RID)
  return res.body.errmsg as string
}

export async function classicToken(sim: Simulator, appid = APPID, secret = SECRET) {
  return wxGet(sim, '/cgi-bin/token', { grant_type: 'client_credential', appid, secret })
}

export async function stableToken(
  sim: Simulator,
  forceRefresh?: boolean,
  appid = APPID,
  secret = SECRET
) {
  return wxPost(sim, '/cgi-bin/stable_token', {
    grant_type: 'client_credential',
    appid,
    secret,
    ...(forceRefresh === undefined ? {} : { force_refresh: forceRefresh }),
  })
}

/** A token for token-authenticated endpoints. */
export async function accessToken(sim: Simulator): Promise<string> {
  return (await classicToken(sim)).body.access_token as string
}

/** The checksession signature, computed here independently of the simulator. */
export function signature(sessionKey: string): string {
  return createHmac('sha256', sessionKey).update('').digest('hex')
}

/** Whole seconds of remaining life: real time flows between calls, so allow one second less. */
export function expectAbout(value: unknown, seconds: number): void {
  expect(value).toBeGreaterThanOrEqual(seconds - 1)
  expect(value).toBeLessThanOrEqual(seconds)
}
