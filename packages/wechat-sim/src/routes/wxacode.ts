import { WxError } from '../errors.js'
import { CODE_IMAGE } from '../jpeg.js'
import { plausiblePage, plausiblePageWithQuery } from '../paths.js'
import type { AppConfig } from '../state/apps.js'
import type { SimState } from '../state/sim-state.js'
import { str, tokenPost, type SimApp, type SimContext } from './context.js'

/** The characters WeChat allows in a getwxacodeunlimit scene (max 32). */
const SCENE_CHARS = /^[0-9A-Za-z!#$&'()*+,/:;=?@\-._~]+$/
const ENV_VERSIONS = ['release', 'trial', 'develop']

function image(c: SimContext): Response {
  c.set('errcode', 0)
  return c.body(new Uint8Array(CODE_IMAGE), 200, { 'Content-Type': 'image/jpeg' })
}

/** Options shared by the three code endpoints: width, env_version, no scancode_time. */
function checkCommonOptions(body: Record<string, unknown>): void {
  if ('scancode_time' in body) throw new WxError(85096)
  const width = body.width
  if (
    width !== undefined &&
    (typeof width !== 'number' || !Number.isInteger(width) || width < 280 || width > 1280)
  )
    throw new WxError(40097)
  if (body.env_version !== undefined && !ENV_VERSIONS.includes(str(body.env_version) ?? ''))
    throw new WxError(40097)
}

/** getwxacode + createwxaqrcode: a path up to `maxLength` (40159) and the lifetime cap (45029). */
function limitedCode(
  state: SimState,
  config: AppConfig,
  body: Record<string, unknown>,
  maxLength: number
): void {
  const path = str(body.path)
  if (!path || path.length > maxLength) throw new WxError(40159)
  if (!plausiblePageWithQuery(path)) throw new WxError(41030)
  checkCommonOptions(body)
  state.lifetime.consume(config.appid, 'qrcode', config.qrcodeLifetimeLimit, 45029)
}

/** Mini Program codes: success is JPEG bytes; errors are WeChat JSON. */
export function registerWxacodeRoutes(app: SimApp, state: SimState): void {
  // A body that is not JSON is reported like a bad scene or path (WeChat's own wording).
  tokenPost(
    app,
    state,
    '/wxa/getwxacodeunlimit',
    (c, _config, body) => {
      const scene = str(body.scene)
      if (!scene || scene.length > 32) throw new WxError(40169)
      if (!SCENE_CHARS.test(scene)) throw new WxError(40129)
      if (body.page !== undefined && !plausiblePage(str(body.page) ?? '')) throw new WxError(41030)
      checkCommonOptions(body)
      return image(c)
    },
    { invalid: 40169 }
  )

  for (const [path, maxLength] of [
    ['/wxa/getwxacode', 1024],
    ['/cgi-bin/wxaapp/createwxaqrcode', 128],
  ] as const)
    tokenPost(
      app,
      state,
      path,
      (c, config, body) => {
        limitedCode(state, config, body, maxLength)
        return image(c)
      },
      { invalid: 40159 }
    )
}
