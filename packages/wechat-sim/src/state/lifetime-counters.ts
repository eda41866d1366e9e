import { WxError } from '../errors.js'

/**
 * Caps that never reset: 100 000 getwxacode + createwxaqrcode codes per app (45029) and
 * 100 000 permanent short links (85400).
 */
export class LifetimeCounters {
  private readonly counts = new Map<string, number>()

  consume(appid: string, name: string, limit: number, errcode: number): void {
    const key = `${appid}|${name}`
    const used = this.counts.get(key) ?? 0
    if (used >= limit) throw new WxError(errcode)
    this.counts.set(key, used + 1)
  }

  clear(): void {
    this.counts.clear()
  }
}
