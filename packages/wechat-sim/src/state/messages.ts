import type { KeywordType, SimSubscriptionGrant, SimTemplateInit } from '../types.js'

/** Subscribe-message templates per app, and each user's remaining one-time subscriptions. */
export class Messages {
  private readonly templates = new Map<string, Record<string, KeywordType>>()
  private readonly remaining = new Map<string, number>()

  addTemplate(init: SimTemplateInit): void {
    this.templates.set(`${init.appid}|${init.templateId}`, { ...init.fields })
  }

  template(appid: string, templateId: string): Record<string, KeywordType> | undefined {
    return this.templates.get(`${appid}|${templateId}`)
  }

  /** Adds `count` one-time subscriptions (as a user accepting the prompt `count` times). */
  grant(g: SimSubscriptionGrant): number {
    const key = `${g.appid}|${g.openid}|${g.templateId}`
    const total = (this.remaining.get(key) ?? 0) + g.count
    this.remaining.set(key, total)
    return total
  }

  /** Spends one subscription; false when none is left (43101). */
  consume(appid: string, openid: string, templateId: string): boolean {
    const key = `${appid}|${openid}|${templateId}`
    const left = this.remaining.get(key) ?? 0
    if (left <= 0) return false
    this.remaining.set(key, left - 1)
    return true
  }

  clear(): void {
    this.templates.clear()
    this.remaining.clear()
  }
}
