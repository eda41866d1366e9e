import { InvalidInputError } from '../errors.js'
import type { CallOptions } from '../http.js'
import { requireString } from '../validate.js'
import type { WeChatExecutor } from '../wechat-executor.js'

export interface MsgSecCheckParams {
  /** ≤2500 characters. */
  content: string
  /** 1 profile, 2 comment, 3 forum, 4 social log. */
  scene: 1 | 2 | 3 | 4
  /** A user who opened the Mini Program within the last 2 hours. */
  openid: string
  title?: string
  nickname?: string
  /** Only for scene 1. */
  signature?: string
}

export type Suggest = 'pass' | 'risky' | 'review'

/**
 * `label` is a number (100 normal, 20006 illegal, …). Old docs typed it as a string: numeric
 * strings are converted; any other string is kept as is.
 */
export interface MsgSecCheckResult {
  result: { suggest: Suggest; label: number | string }
  detail: Array<{
    strategy: string
    errcode: number
    suggest?: Suggest
    label?: number | string
    prob?: number
    keyword?: string
    level?: number
  }>
  trace_id: string
}

export interface SecurityApi {
  /** Text check (v2). Decide on `result.suggest`: errcode 0 does not mean the text is clean. */
  msgSecCheck(params: MsgSecCheckParams, options?: CallOptions): Promise<MsgSecCheckResult>
}

function label(value: unknown): number | string {
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value)
  return value as number | string
}

export function securityApi(exec: WeChatExecutor): SecurityApi {
  return {
    async msgSecCheck(params, options) {
      requireString('params.content', params?.content, 'the text to check')
      requireString('params.openid', params.openid, 'the author\u2019s openid')
      if (![1, 2, 3, 4].includes(params.scene)) {
        throw new InvalidInputError(
          'params.scene',
          'must be 1 (profile), 2 (comment), 3 (forum) or 4 (social log)'
        )
      }
      const json = await exec.json<MsgSecCheckResult>(
        { method: 'POST', path: '/wxa/msg_sec_check', body: { ...params, version: 2 } },
        options
      )
      return {
        result: { suggest: json.result.suggest, label: label(json.result.label) },
        detail: (json.detail ?? []).map((d) =>
          d.label === undefined ? d : { ...d, label: label(d.label) }
        ),
        trace_id: json.trace_id,
      }
    },
  }
}
