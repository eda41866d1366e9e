import { WxError } from '../errors.js'
import { keywordValueValid } from '../keyword-rules.js'
import { plausiblePageWithQuery } from '../paths.js'
import type { SimState } from '../state/sim-state.js'
import { ok, str, tokenPost, type SimApp } from './context.js'

const STATES = ['developer', 'trial', 'formal']
const LANGS = ['zh_CN', 'en_US', 'zh_HK', 'zh_TW']

function invalid(what: string): WxError {
  return new WxError(47003, `argument invalid! ${what}`)
}

/** `POST /cgi-bin/message/subscribe/send`. */
export function registerSubscribeRoutes(app: SimApp, state: SimState): void {
  tokenPost(app, state, '/cgi-bin/message/subscribe/send', (c, config, body) => {
    const touser = str(body.touser)
    if (!touser || !state.users.get(config.appid, touser)) throw new WxError(40003)
    const templateId = str(body.template_id)
    const fields = templateId ? state.messages.template(config.appid, templateId) : undefined
    if (!templateId || !fields) throw new WxError(40037)

    const data = body.data
    if (data === null || typeof data !== 'object' || Array.isArray(data))
      throw invalid('data invalid')
    const given = data as Record<string, unknown>
    for (const key of Object.keys(given))
      if (!(key in fields)) throw invalid(`data.${key} not in template`)
    for (const [key, type] of Object.entries(fields)) {
      const entry = given[key]
      const value =
        entry !== null && typeof entry === 'object'
          ? (entry as { value?: unknown }).value
          : undefined
      if (value === undefined) throw invalid(`data.${key}.value is empty`)
      if (!keywordValueValid(type, value)) throw invalid(`data.${key}.value invalid`)
    }
    if (body.miniprogram_state !== undefined && !STATES.includes(str(body.miniprogram_state) ?? ''))
      throw invalid('miniprogram_state invalid')
    if (body.lang !== undefined && !LANGS.includes(str(body.lang) ?? ''))
      throw invalid('lang invalid')
    if (body.page !== undefined && !plausiblePageWithQuery(str(body.page) ?? ''))
      throw new WxError(41030)

    state.quotas.consume(config, '/cgi-bin/message/subscribe/send', state.now())
    if (!state.messages.consume(config.appid, touser, templateId)) throw new WxError(43101)
    return ok(c)
  })
}
