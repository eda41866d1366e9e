import { WxError, newRid } from '../errors.js'
import type { SimState } from '../state/sim-state.js'
import { ok, str, tokenPost, type SimApp } from './context.js'

const MAX_CONTENT = 2500

/** `POST /wxa/msg_sec_check` (version 2 only). */
export function registerSecurityRoutes(app: SimApp, state: SimState): void {
  tokenPost(app, state, '/wxa/msg_sec_check', (c, config, body) => {
    if (body.version !== 2) throw new WxError(40097)
    const scene = body.scene
    if (typeof scene !== 'number' || ![1, 2, 3, 4].includes(scene)) throw new WxError(40129)
    const openid = str(body.openid)
    if (!openid || !state.users.get(config.appid, openid)) throw new WxError(40003)
    const content = str(body.content)
    if (content === undefined || [...content].length > MAX_CONTENT) throw new WxError(40097)
    state.quotas.consume(config, '/wxa/msg_sec_check', state.now())

    const texts = [content, body.title, body.nickname, body.signature].filter(
      (t): t is string => typeof t === 'string'
    )
    const verdict = state.risky.judge(texts)
    const hit = verdict.keyword !== undefined
    return ok(c, {
      detail: [
        {
          strategy: 'content_model',
          errcode: 0,
          suggest: verdict.suggest,
          label: verdict.label,
          prob: hit ? 90 : 0,
        },
        hit
          ? {
              strategy: 'keyword',
              errcode: 0,
              suggest: verdict.suggest,
              label: verdict.label,
              level: 20,
              keyword: verdict.keyword,
            }
          : { strategy: 'keyword', errcode: 0 },
      ],
      trace_id: newRid(),
      result: { suggest: verdict.suggest, label: verdict.label },
    })
  })
}
