import { WxError } from '../errors.js'
import type { SimState } from '../state/sim-state.js'
import {
  authenticateApp,
  ok,
  readJson,
  requirePost,
  str,
  tokenPost,
  type SimApp,
} from './context.js'

/** getApiQuota, clearQuota (token) and clearQuotaByAppSecret (no token). */
export function registerQuotaRoutes(app: SimApp, state: SimState): void {
  tokenPost(app, state, '/cgi-bin/openapi/quota/get', (c, config, body) => {
    const path = str(body.cgi_path)
    if (!path) throw new WxError(47001)
    return ok(c, { quota: state.quotas.usage(config, path, state.now()) })
  })

  tokenPost(app, state, '/cgi-bin/clear_quota', (c, config, body) => {
    const appid = str(body.appid)
    if (!appid) throw new WxError(41002)
    if (appid !== config.appid) throw new WxError(40013)
    clearApp(state, appid)
    return ok(c)
  })

  app.all('/cgi-bin/clear_quota/v2', async (c) => {
    requirePost(c)
    // The documentation shows both query and body parameters; WeChat accepts either.
    const body = await readJson(c, { allowEmpty: true })
    const config = authenticateApp(c, state, {
      appid: c.req.query('appid') ?? str(body.appid),
      secret: c.req.query('appsecret') ?? str(body.appsecret),
    })
    clearApp(state, config.appid)
    return ok(c)
  })
}

function clearApp(state: SimState, appid: string): void {
  state.quotas.clear(appid, state.now())
  state.tokens.clearForceCount(appid)
}
