import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  APP1,
  KEYS,
  expectError,
  jsonInit,
  startHarness,
  type Harness,
} from '../support/harness.js'

// Request validation says what is wrong with a field (missing, wrong type, empty, too long,
// badly formed, unknown), names the field and never echoes the value (it may be a token).

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h.close()
})

const invalidate = (body: unknown) =>
  h.fetch(`/v1/apps/${APP1}/token/invalidate`, jsonInit(body, KEYS.all))
const login = (body: unknown) =>
  h.fetch(`/v1/apps/${APP1}/jscode2session`, jsonInit(body, KEYS.all))

/** A value no message may contain (a token or a code would look like this). */
const VALUE = 'Zq7valueMustNotEcho'

async function badRequest(res: Response, ...parts: string[]): Promise<string> {
  const { error } = await expectError(res, 400, 'bad_request')
  for (const part of parts) expect(error.message).toContain(part)
  expect(error.message).not.toContain(VALUE)
  expect(error.message).not.toMatch(/required/)
  return error.message
}

describe('POST /v1/apps/{appid}/token/invalidate validation', () => {
  it('a 10 000-character access_token is too long (at most 512), not "required"', async () => {
    await badRequest(
      await invalidate({ access_token: VALUE.repeat(10_000 / VALUE.length + 1) }),
      'access_token is too long: at most 512 characters'
    )
    await badRequest(
      await invalidate({ access_token: VALUE + 'x'.repeat(513 - VALUE.length) }),
      'at most 512'
    )
  })

  it('512 characters pass validation (a stale report answers 200)', async () => {
    const res = await invalidate({ access_token: VALUE + 'x'.repeat(512 - VALUE.length) })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ refreshed: false, reason: 'stale_report' })
  })

  it.each<[string, unknown, string]>([
    ['a number', 123, 'access_token must be a string, got a number'],
    ['null', null, 'access_token must be a string, got null'],
    ['an array', [VALUE], 'access_token must be a string, got an array'],
    ['an object', { v: VALUE }, 'access_token must be a string, got an object'],
    ['a boolean', true, 'access_token must be a string, got a boolean'],
    ['empty', '', 'access_token is empty'],
  ])('access_token as %s', async (_, value, message) => {
    await badRequest(await invalidate({ access_token: value }), message)
  })

  it('a missing access_token is missing, with what it is', async () => {
    await badRequest(
      await invalidate({ errcode: 40001 }),
      'access_token is missing (the token WeChat rejected)'
    )
  })

  it.each<[string, unknown, string]>([
    ['a string', '40001', 'errcode must be a number, got a string'],
    ['a fraction', 40001.5, 'errcode must be a whole number'],
    ['huge', 2 ** 40, 'errcode must be at most 2147483647'],
  ])('errcode as %s', async (_, value, message) => {
    await badRequest(await invalidate({ access_token: 'tok', errcode: value }), message)
  })

  it('a body that is not an object, and unknown fields (never named back)', async () => {
    await badRequest(await invalidate([VALUE]), 'the body must be a JSON object, got an array')
    await badRequest(await invalidate(VALUE), 'the body must be a JSON object, got a string')
    await badRequest(
      await invalidate({ access_token: 'tok', [VALUE]: 1 }),
      'the body has an unknown field; it takes only access_token, errcode'
    )
  })

  it('reports every problem at once', async () => {
    await badRequest(
      await invalidate({ access_token: 7, errcode: 'x' }),
      'access_token must be a string, got a number',
      'errcode must be a number, got a string'
    )
  })
})

describe('POST /v1/apps/{appid}/jscode2session validation', () => {
  it('a 10 000-character js_code is too long (at most 128), not "required"', async () => {
    await badRequest(
      await login({ js_code: VALUE.repeat(10_000 / VALUE.length + 1) }),
      'js_code is too long: at most 128 characters'
    )
  })

  it('128 characters pass validation (WeChat then refuses the unknown code)', async () => {
    await expectError(
      await login({ js_code: VALUE + 'x'.repeat(128 - VALUE.length) }),
      400,
      'invalid_code'
    )
  })

  it.each<[string, unknown, string]>([
    ['a number', 123, 'js_code must be a string, got a number'],
    ['missing', undefined, 'js_code is missing (the code from wx.login)'],
    ['empty', '', 'js_code is empty'],
  ])('js_code as %s', async (_, value, message) => {
    await badRequest(await login(value === undefined ? {} : { js_code: value }), message)
  })
})

describe('the appid path parameter', () => {
  it('says what an appid looks like, without the value, however long', async () => {
    for (const appid of [VALUE, VALUE.repeat(300), 'wx' + 'A'.repeat(16)]) {
      await badRequest(
        await h.fetch(`/v1/apps/${appid}/token`, { key: KEYS.all }),
        "appid must be 'wx' followed by 16 lowercase hex digits"
      )
    }
  })
})

describe('OpenAPI', () => {
  it('documents the bounds from the same schemas', async () => {
    const doc = (await (await h.fetch('/openapi.json')).json()) as {
      components: {
        schemas: Record<string, { properties: Record<string, { maxLength?: number }> }>
      }
    }
    expect(doc.components.schemas.InvalidateRequest?.properties.access_token?.maxLength).toBe(512)
    expect(doc.components.schemas.LoginRequest?.properties.js_code?.maxLength).toBe(128)
  })
})
