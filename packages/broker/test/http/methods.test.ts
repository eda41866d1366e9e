import { Hono } from 'hono'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { allowedMethods } from '../../src/http/allowed-methods.js'
import type { BrokerEnv } from '../../src/http/env.js'
import { APP1, KEYS, expectError, startHarness, type Harness } from '../support/harness.js'

// A known path with the wrong method is 405 with Allow and the JSON envelope; an unknown path stays
// 404; HEAD on a GET route keeps working.

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h.close()
})

describe('405 for a known path with another method', () => {
  it.each<[string, string, string]>([
    ['DELETE', `/v1/apps/${APP1}/token`, 'GET, HEAD'],
    ['PUT', `/v1/apps/${APP1}/token`, 'GET, HEAD'],
    ['POST', `/v1/apps/${APP1}/token`, 'GET, HEAD'],
    ['GET', `/v1/apps/${APP1}/jscode2session`, 'POST'],
    ['GET', `/v1/apps/${APP1}/token/invalidate`, 'POST'],
    ['DELETE', `/v1/apps/${APP1}/token/refresh`, 'POST'],
    ['PATCH', '/v1/apps', 'GET, HEAD'],
    ['POST', '/healthz', 'GET, HEAD'],
    ['POST', '/readyz', 'GET, HEAD'],
    ['OPTIONS', '/metrics', 'GET, HEAD'],
    ['POST', '/openapi.json', 'GET, HEAD'],
    ['POST', '/status', 'GET, HEAD'],
    // Any segment fits {appid}: the route exists whatever the appid.
    ['DELETE', '/v1/apps/not-an-appid/token', 'GET, HEAD'],
  ])('%s %s → 405, Allow: %s', async (method, path, allow) => {
    const res = await h.fetch(path, { method, key: KEYS.all })
    expect(res.headers.get('allow')).toBe(allow)
    const { error } = await expectError(res, 405, 'method_not_allowed')
    expect(error.message).toBe(`this route answers ${allow} only`)
  })

  it('comes before authentication (the routes are public in /openapi.json)', async () => {
    await expectError(
      await h.fetch(`/v1/apps/${APP1}/token`, { method: 'DELETE' }),
      405,
      'method_not_allowed'
    )
  })

  it('keeps Cache-Control: no-store under /v1', async () => {
    const res = await h.fetch(`/v1/apps/${APP1}/jscode2session`, { key: KEYS.all })
    expect(res.status).toBe(405)
    expect(res.headers.get('cache-control')).toBe('no-store')
  })

  it('HEAD on a POST-only route is 405 too, with no body', async () => {
    const res = await h.fetch(`/v1/apps/${APP1}/jscode2session`, { method: 'HEAD' })
    expect(res.status).toBe(405)
    expect(res.headers.get('allow')).toBe('POST')
    expect(await res.text()).toBe('')
  })
})

describe('404 and HEAD stay as they were', () => {
  it.each<[string, string]>([
    ['GET', '/v2/nothing'],
    ['DELETE', '/nothing'],
    ['GET', '/healthz/'],
    ['GET', `/v1/apps/${APP1}/token/extra`],
    ['POST', `/v1/apps/${APP1}`],
    ['GET', '/v1'],
  ])('%s %s → 404 not_found', async (method, path) => {
    const res = await h.fetch(path, { method, key: KEYS.all })
    expect(res.headers.get('allow')).toBeNull()
    await expectError(res, 404, 'not_found')
  })

  it.each(['/healthz', '/readyz', '/openapi.json', '/status', `/v1/apps/${APP1}/token`])(
    'HEAD %s is 200 without a body',
    async (path) => {
      const res = await h.fetch(path, { method: 'HEAD', key: KEYS.all })
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('')
    }
  )
})

describe('allowedMethods', () => {
  it("comes from the app's own routes, middleware aside", () => {
    const app = new Hono<BrokerEnv>()
    app.use('*', async (_c, next) => next())
    app.get('/a/:id', (c) => c.text('a'))
    app.put('/a/:id', (c) => c.text('a'))
    app.on('PURGE', '/b', (c) => c.text('b'))
    expect(allowedMethods(app, '/a/1')).toEqual(['GET', 'HEAD', 'PUT'])
    expect(allowedMethods(app, '/b')).toEqual(['PURGE'])
    expect(allowedMethods(app, '/c')).toEqual([])
  })
})
