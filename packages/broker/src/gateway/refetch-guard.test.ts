import { describe, expect, it } from 'vitest'
import { LARGEST_SDK_MARGIN_SECONDS, RefetchGuard, type RefetchDecision } from './refetch-guard.js'

// The refetch-loop guard's rule on a manual clock: check at checkAfter (once a window), refuse at
// refuseAfter only once WeChat said the token works, never within the largest SDK margin.

const SETTINGS = { checkAfter: 3, refuseAfter: 6, windowSeconds: 60 }
const LONG = 7000 // seconds of expires_in: no SDK margin explains a refetch

function setup() {
  let now = 1_000_000
  const guard = new RefetchGuard(SETTINGS, () => now)
  const fetches = (n: number, token = 'T', expiresIn = LONG, client = 'svc'): RefetchDecision[] =>
    Array.from({ length: n }, () => guard.observe(client, 'wxapp', token, expiresIn))
  return { guard, fetches, advance: (ms: number) => (now += ms) }
}

describe('RefetchGuard', () => {
  it('asks WeChat at checkAfter, refuses at refuseAfter once WeChat said the token works', () => {
    const { guard, fetches } = setup()
    expect(fetches(3)).toEqual(['serve', 'serve', 'check'])
    guard.checked('svc', 'wxapp', 'T', 'valid')
    expect(fetches(4)).toEqual(['serve', 'serve', 'refuse', 'refuse'])
  })

  it('does not refuse while WeChat has not said the token works (unknown, invalid, not yet asked)', () => {
    const { guard, fetches } = setup()
    expect(fetches(3).at(-1)).toBe('check')
    guard.checked('svc', 'wxapp', 'T', 'unknown')
    expect(fetches(10)).not.toContain('refuse')
    guard.checked('svc', 'wxapp', 'T', 'invalid')
    expect(fetches(10)).not.toContain('refuse')
  })

  it('never refuses within the largest SDK margin (silenceper: 1500 s), but still checks', () => {
    const { guard, fetches } = setup()
    expect(fetches(3, 'T', LARGEST_SDK_MARGIN_SECONDS).at(-1)).toBe('check')
    guard.checked('svc', 'wxapp', 'T', 'valid')
    expect(fetches(20, 'T', LARGEST_SDK_MARGIN_SECONDS)).not.toContain('refuse')
    expect(fetches(1, 'T', LARGEST_SDK_MARGIN_SECONDS + 1)).toEqual(['refuse'])
  })

  it('asks again at most once a window, and forgets fetches older than the window', () => {
    const { guard, fetches, advance } = setup()
    expect(fetches(3).at(-1)).toBe('check')
    guard.checked('svc', 'wxapp', 'T', 'valid')
    advance(30_000)
    expect(fetches(2)).toEqual(['serve', 'serve'])
    // 61 s after the first fetches: those three dropped out; the window holds the last two.
    advance(31_000)
    expect(fetches(1)).toEqual(['check'])
    guard.checked('svc', 'wxapp', 'T', 'valid')
    expect(fetches(3)).toEqual(['serve', 'serve', 'refuse'])
    // A quiet minute and the key is served again.
    advance(61_000)
    expect(fetches(2)).toEqual(['serve', 'serve'])
  })

  it('counts per client, app and token; a new token starts afresh and is what force_refresh reports', () => {
    const { guard, fetches } = setup()
    fetches(3)
    guard.checked('svc', 'wxapp', 'T', 'valid')
    expect(fetches(2, 'T', LONG, 'other')).toEqual(['serve', 'serve'])
    expect(guard.observe('svc', 'wxother', 'T', LONG)).toBe('serve')
    expect(fetches(4, 'T2')).toEqual(['serve', 'serve', 'check', 'serve'])
    expect(guard.lastServed('svc', 'wxapp')).toBe('T2')
    // A verdict about a token no longer current for the key changes nothing.
    guard.checked('svc', 'wxapp', 'T', 'valid')
    expect(fetches(2, 'T2')).toEqual(['serve', 'serve'])
  })
})
