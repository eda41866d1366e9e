import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { KEYS, startHarness, type Harness } from '../support/harness.js'
import { rawRequest } from '../support/raw-http.js'

// Requests node-server refuses before the app sees them (it cannot make a URL of the Host header
// or the request target) are answered in the JSON envelope too, not with a bare 400. Found by
// test/http/fuzz.test.ts.

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h.close()
})

describe('requests node-server cannot turn into a URL', () => {
  it.each<[string, string, Record<string, string>]>([
    ['a Host header with a space', '/healthz', { host: 'a b' }],
    ['a Host header with userinfo', '/v1/apps', { host: 'x@y' }],
    ['a Host header with a bad port', '/readyz', { host: 'h:abc' }],
    ['a Host header with a backslash', '/healthz', { host: 'ex\\ample' }],
    ['a backslash in the path', '/v1\\apps', {}],
    ['a backslash in the path after a dot segment', '/x/..\\..\\healthz', {}],
  ])('%s: 400 bad_request in the envelope, with X-Request-Id', async (_, path, headers) => {
    const res = await rawRequest(h.url, {
      method: 'GET',
      path,
      headers: { authorization: `Bearer ${KEYS.admin}`, ...headers },
    })
    expect(res.status).toBe(400)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    const requestId = res.headers['x-request-id']
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/)
    expect(JSON.parse(res.body.toString())).toEqual({
      error: {
        code: 'bad_request',
        message: 'malformed request: invalid Host header or request target',
        request_id: requestId,
      },
    })
  })

  it('a backslash after the query is no problem', async () => {
    const res = await rawRequest(h.url, { method: 'GET', path: '/healthz?a=\\', headers: {} })
    expect(res.status).toBe(200)
  })
})
