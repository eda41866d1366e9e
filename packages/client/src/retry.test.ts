import { describe, expect, it } from 'vitest'
import { backoffDelay, retryPolicy, sleep } from './retry.js'

describe('retry policy', () => {
  const policy = retryPolicy({ retries: 5, baseDelayMs: 100, maxDelayMs: 1000 }, 'retry')

  it('doubles the step, caps it, and jitters within the upper half', () => {
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(policy, n, () => 0))).toEqual([
      50, 100, 200, 400, 500,
    ])
    expect([0, 1, 2, 3, 4].map((n) => backoffDelay(policy, n, () => 1))).toEqual([
      100, 200, 400, 800, 1000,
    ])
  })

  it('rejects bad numbers naming the field', () => {
    expect(() => retryPolicy({ retries: 1.5 }, 'retry')).toThrow(/^retry.retries: /)
    expect(() => retryPolicy({ maxDelayMs: -1 }, 'retry')).toThrow(/^retry.maxDelayMs: /)
  })

  it('sleep stops early with the abort reason', async () => {
    const controller = new AbortController()
    const started = Date.now()
    setTimeout(() => controller.abort(new Error('stop')), 10)
    await expect(sleep(5000, controller.signal)).rejects.toThrow('stop')
    expect(Date.now() - started).toBeLessThan(1000)
  })
})
