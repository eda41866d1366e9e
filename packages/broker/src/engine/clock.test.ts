import { describe, expect, it } from 'vitest'
import { nextShanghaiMidnight, shanghaiDay } from './clock.js'

describe('Asia/Shanghai quota days', () => {
  it('a day runs from 16:00 UTC to 16:00 UTC', () => {
    expect(shanghaiDay(Date.parse('2026-11-23T15:59:59.999Z'))).toBe('2026-11-23')
    expect(shanghaiDay(Date.parse('2026-11-23T16:00:00.000Z'))).toBe('2026-11-24')
    expect(shanghaiDay(Date.parse('2026-12-31T16:30:00Z'))).toBe('2027-01-01')
  })

  it('finds the next midnight strictly after an instant', () => {
    expect(nextShanghaiMidnight(Date.parse('2026-11-23T15:00:00Z'))).toBe(
      Date.parse('2026-11-23T16:00:00Z')
    )
    expect(nextShanghaiMidnight(Date.parse('2026-11-23T16:00:00Z'))).toBe(
      Date.parse('2026-11-24T16:00:00Z')
    )
    expect(nextShanghaiMidnight(Date.parse('2026-11-24T03:00:00Z'))).toBe(
      Date.parse('2026-11-24T16:00:00Z')
    )
  })
})
