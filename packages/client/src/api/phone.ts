import type { Watermark } from '../crypto/user-data.js'
import type { CallOptions } from '../http.js'
import { requireString } from '../validate.js'
import type { WeChatExecutor } from '../wechat-executor.js'

export interface PhoneInfo {
  /** With the country code for non-CN numbers. */
  phoneNumber: string
  purePhoneNumber: string
  /** WeChat documents a string and sends a number; always a string here, e.g. "86". */
  countryCode: string
  watermark: Watermark
}

export interface PhoneApi {
  /** Exchanges the `getPhoneNumber` button's code (not the wx.login code; one use, 5 min). */
  getPhoneNumber(code: string, options?: CallOptions): Promise<PhoneInfo>
}

interface PhoneResponse {
  phone_info: Omit<PhoneInfo, 'countryCode'> & { countryCode: string | number }
}

export function phoneApi(exec: WeChatExecutor): PhoneApi {
  return {
    async getPhoneNumber(code, options) {
      requireString('code', code, 'e.detail.code from <button open-type="getPhoneNumber">')
      const json = await exec.json<PhoneResponse>(
        { method: 'POST', path: '/wxa/business/getuserphonenumber', body: { code } },
        options
      )
      const info = json.phone_info
      return { ...info, countryCode: String(info.countryCode) }
    },
  }
}
