import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { APP1, KEYS, SECRET1, expectError, startHarness, type Harness } from '../support/harness.js'

// Secrets stay inside (design §3.8) when something fails in a way no handler expected: the app's
// onError logs the error's message, and that message can carry an upstream URL with the secret or
// a token in its query. It must reach the log scrubbed.

let h: Harness
beforeAll(async () => {
  h = await startHarness()
})
afterAll(async () => {
  await h.close()
})

interface LogLine {
  msg?: string
  request_id?: string
  err?: { name?: string; message?: string }
}

describe('unhandled errors', () => {
  it('an unhandled error whose message carries secret= and access_token= is logged scrubbed, and answered 500 without them', async () => {
    const { access_token: token } = (await (
      await h.fetch(`/v1/apps/${APP1}/token`, { key: KEYS.reader })
    ).json()) as { access_token: string }
    expect(token.length).toBeGreaterThan(20)
    // A bug below the route: the engine throws a plain Error quoting the URL it called.
    const refresh = vi
      .spyOn(h.broker.engine, 'refresh')
      .mockRejectedValue(
        new TypeError(
          `fetch failed for https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=${APP1}&secret=${SECRET1} ` +
            `then https://api.weixin.qq.com/cgi-bin/openapi/quota/get?access_token=${token}`
        )
      )
    try {
      const before = h.logs.length
      const res = await h.fetch(`/v1/apps/${APP1}/token/refresh`, {
        method: 'POST',
        key: KEYS.admin,
      })
      expect(refresh).toHaveBeenCalledTimes(1)
      const body = await expectError(res, 500, 'internal')
      expect(JSON.stringify(body)).not.toContain(SECRET1)
      expect(JSON.stringify(body)).not.toContain(token)

      const lines = h.logs.slice(before).map((l) => JSON.parse(l) as LogLine)
      const logged = lines.filter((l) => l.msg === 'unhandled error')
      expect(logged).toHaveLength(1)
      const [line] = logged
      expect(line!.request_id).toBe(body.error.request_id)
      // Scrubbed where the values were, the rest of the message kept for whoever reads the log.
      expect(line!.err).toMatchObject({
        name: 'TypeError',
        message:
          `fetch failed for https://api.weixin.qq.com/cgi-bin/token?grant_type=client_credential&appid=${APP1}&secret=[redacted] ` +
          'then https://api.weixin.qq.com/cgi-bin/openapi/quota/get?access_token=[redacted]',
      })
      const text = h.logs.slice(before).join('')
      expect(text).not.toContain(SECRET1)
      expect(text).not.toContain(token)
    } finally {
      refresh.mockRestore()
    }
  })
})
