import type { CallOptions } from '../http.js'
import { requireString } from '../validate.js'
import type { WeChatExecutor } from '../wechat-executor.js'
import type { ImageResult } from '../wechat-response.js'

type EnvVersion = 'release' | 'trial' | 'develop'
interface Rgb {
  r: number
  g: number
  b: number
}

interface CodeStyle {
  /** Pixels, 280–1280 (default 430). */
  width?: number
  auto_color?: boolean
  line_color?: Rgb
  is_hyaline?: boolean
  env_version?: EnvVersion
}

/** `/wxa/getwxacode`: counts toward the 100 000 lifetime codes shared with createQRCode. */
export interface GetWxaCodeParams extends CodeStyle {
  /** Page with optional query, ≤1024 chars. */
  path: string
}

/** `/wxa/getwxacodeunlimit`: unlimited count. */
export interface GetUnlimitedWxaCodeParams extends CodeStyle {
  /** ≤32 visible characters from `0-9A-Za-z!#$&'()*+,/:;=?@-._~`. */
  scene: string
  /** No leading slash, no query; default the home page. */
  page?: string
  check_path?: boolean
}

/** `/cgi-bin/wxaapp/createwxaqrcode`: the classic square QR code. */
export interface CreateQRCodeParams {
  path: string
  width?: number
}

export interface WxaCodeApi {
  get(params: GetWxaCodeParams, options?: CallOptions): Promise<ImageResult>
  getUnlimited(params: GetUnlimitedWxaCodeParams, options?: CallOptions): Promise<ImageResult>
  createQRCode(params: CreateQRCodeParams, options?: CallOptions): Promise<ImageResult>
}

export function wxaCodeApi(exec: WeChatExecutor): WxaCodeApi {
  return {
    get(params, options) {
      requireString('params.path', params?.path, '"pages/index/index?id=1"')
      return exec.image({ method: 'POST', path: '/wxa/getwxacode', body: params }, options)
    },
    getUnlimited(params, options) {
      requireString('params.scene', params?.scene, '"id=42"')
      return exec.image({ method: 'POST', path: '/wxa/getwxacodeunlimit', body: params }, options)
    },
    createQRCode(params, options) {
      requireString('params.path', params?.path, '"pages/index/index"')
      return exec.image(
        { method: 'POST', path: '/cgi-bin/wxaapp/createwxaqrcode', body: params },
        options
      )
    },
  }
}
