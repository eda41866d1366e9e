import type { Clock } from '../../src/engine/types.js'

interface Timer {
  at: number
  fn: () => void
}

/** A virtual clock: time moves only when a test advances it, firing due timers in order. */
export class ManualClock implements Clock {
  private timers = new Set<Timer>()

  constructor(private current: number) {}

  now(): number {
    return this.current
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.current + Math.max(0, ms), fn }
    this.timers.add(timer)
    return timer
  }

  clearTimeout(handle: unknown): void {
    this.timers.delete(handle as Timer)
  }

  /** Moves time forward, firing each timer that falls due (timers they set are honoured too). */
  advance(ms: number): void {
    const target = this.current + ms
    for (;;) {
      const next = [...this.timers].filter((t) => t.at <= target).sort((a, b) => a.at - b.at)[0]
      if (!next) break
      this.timers.delete(next)
      this.current = Math.max(this.current, next.at)
      next.fn()
    }
    this.current = target
  }
}
