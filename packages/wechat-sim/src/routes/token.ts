import { WxError } from '../errors.js'
import type { SimState } from '../state/sim-state.js'
import {
  authenticateApp,
  checkIpAllowList,
  readJson,
  requirePost,
  str,
  wxJson,
  type SimApp,
} from './context.js'

const GRANT = 'client_credential'

/** `GET /cgi-bin/token` and `POST /cgi-bin/stable_token`. Success bodies carry no errcode. */
export function registerTokenRoutes(app: SimApp, state: SimState): void {
  app.on(['GET', 'POST'], '/cgi-bin/token', (c) => {
    const q = c.req.query()
    const config = authenticateApp(c, state, {
      appid: q.appid,
      secret: q.secret,
      grantType: { given: q.grant_type, expected: GRANT },
    })
    checkIpAllowList(c, config)
    const now = state.now()
    state.quotas.consume(config, '/cgi-bin/token', now)
    return wxJson(c, { ...state.tokens.issueClassic(config, now) })
  })

  app.all('/cgi-bin/stable_token', async (c) => {
    requirePost(c)
    const body = await readJson(c)
    const config = authenticateApp(c, state, {
      appid: str(body.appid),
      secret: str(body.secret),
      grantType: { given: str(body.grant_type), expected: GRANT },
    })
    const force = body.force_refresh
    if (force !== undefined && typeof force !== 'boolean') throw new WxError(47001)
    checkIpAllowList(c, config)
    const now = state.now()
    state.quotas.consume(config, '/cgi-bin/stable_token', now)
    return wxJson(c, { ...state.tokens.stable(config, now, force === true) })
  })
}
