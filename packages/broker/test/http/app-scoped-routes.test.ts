import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { APP2, KEYS, startHarness, type Harness } from '../support/harness.js'

// Every route under /v1/apps/{appid}, as /openapi.json lists them (a new route is covered without
// touching this file), refuses a key limited to another app: no route can forget the app check.

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h.close()
})

// Keys limited to APP1, one per scope.
const APP1_ONLY = [KEYS.reader, KEYS.invalidator, KEYS.login, KEYS.app1Admin]

describe('app-scoped routes', () => {
  it('refuse every key limited to another app with 403, and one of them for the app itself', async () => {
    const doc = (await (await h.fetch('/openapi.json')).json()) as {
      paths: Record<string, Record<string, unknown>>
    }
    const routes = Object.entries(doc.paths)
      .filter(([path]) => path.includes('{appid}'))
      .flatMap(([path, ops]) => Object.keys(ops).map((method) => ({ path, method })))
    expect(routes.length).toBeGreaterThanOrEqual(4)
    for (const { path, method } of routes) {
      const url = path.replace('{appid}', APP2)
      const messages: string[] = []
      for (const key of APP1_ONLY) {
        const res = await h.fetch(url, {
          method: method.toUpperCase(),
          key,
          headers: { 'content-type': 'application/json' },
          ...(method === 'get'
            ? {}
            : { body: JSON.stringify({ access_token: 'x', js_code: 'y' }) }),
        })
        expect(res.status, `${method} ${path}`).toBe(403)
        messages.push(((await res.json()) as { error: { message: string } }).error.message)
      }
      expect(messages, `${method} ${path}`).toContain('this key is not allowed to use this app')
    }
  })
})
