import type { CallOptions } from '../http.js'
import { requireString } from '../validate.js'
import type { WeChatExecutor } from '../wechat-executor.js'

/** Body of `/cgi-bin/message/subscribe/send` (WeChat's field names). */
export interface SubscribeMessage {
  /** The recipient's openid. */
  touser: string
  template_id: string
  /** In-app page to open, may carry a query (`index?foo=bar`). */
  page?: string
  /** Keyword values, e.g. `{ thing1: { value: 'Order shipped' } }`. */
  data: Record<string, { value: string }>
  miniprogram_state?: 'developer' | 'trial' | 'formal'
  lang?: 'zh_CN' | 'en_US' | 'zh_HK' | 'zh_TW'
}

export interface SubscribeMessageApi {
  send(message: SubscribeMessage, options?: CallOptions): Promise<void>
}

export function subscribeMessageApi(exec: WeChatExecutor): SubscribeMessageApi {
  return {
    async send(message, options) {
      requireString('message.touser', message?.touser, 'the recipient\u2019s openid')
      requireString('message.template_id', message.template_id, 'the subscribe template id')
      await exec.json(
        { method: 'POST', path: '/cgi-bin/message/subscribe/send', body: message },
        options
      )
    },
  }
}
