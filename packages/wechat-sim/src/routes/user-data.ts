import { WxError } from '../errors.js'
import type { SimState } from '../state/sim-state.js'
import { ok, str, tokenPost, type SimApp } from './context.js'

/** `POST /wxa/business/getuserphonenumber`: one-use phone codes. */
export function registerPhoneRoutes(app: SimApp, state: SimState): void {
  tokenPost(app, state, '/wxa/business/getuserphonenumber', (c, config, body) => {
    const code = str(body.code)
    if (!code) throw new WxError(40029)
    const phone = state.users.redeemPhoneCode(config.appid, code, state.now())
    const watermark = { timestamp: Math.floor(state.now() / 1000), appid: config.appid }
    return ok(c, { phone_info: { ...phone, watermark } })
  })
}
