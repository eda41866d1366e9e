import { randomBytes } from 'node:crypto'
import { WxError } from '../errors.js'
import { plausiblePage, plausiblePageWithQuery } from '../paths.js'
import type { SimState } from '../state/sim-state.js'
import { ok, str, tokenPost, type SimApp } from './context.js'

const ENV_VERSIONS = ['release', 'trial', 'develop']
const MAX_EXPIRY_DAYS = 30
/** Permanent short links allowed per app, for its lifetime (85400 after). */
const PERMANENT_SHORT_LINKS = 100_000

function ticket(): string {
  return randomBytes(9).toString('base64url')
}

/**
 * The expiry rules of scheme and URL links: expire_type 0 needs expire_time within 1 min to
 * 30 days from now, expire_type 1 needs expire_interval of 1 to 30 days; otherwise 85401.
 */
function checkExpiry(body: Record<string, unknown>, nowMs: number): void {
  const type = body.expire_type ?? 0
  if (type === 0) {
    if (body.expire_time === undefined) return // WeChat then applies its own 30-day default
    const at = body.expire_time
    const now = nowMs / 1000
    if (typeof at !== 'number' || at < now + 60 || at > now + MAX_EXPIRY_DAYS * 86_400)
      throw new WxError(85401)
  } else if (type === 1) {
    const days = body.expire_interval
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_EXPIRY_DAYS)
      throw new WxError(85401)
  } else {
    throw new WxError(40097)
  }
}

function checkTarget(path: unknown, query: unknown, env: unknown): void {
  if (path !== undefined && !plausiblePage(str(path) ?? '')) throw new WxError(40165)
  if (query !== undefined) {
    const q = str(query)
    if (q === undefined || q.length > 1024 || !/^[\x21-\x7e]*$/.test(q)) throw new WxError(40212)
  }
  if (env !== undefined && !ENV_VERSIONS.includes(str(env) ?? '')) throw new WxError(85402)
}

/** URL Scheme, URL Link and Short Link generation. */
export function registerLinkRoutes(app: SimApp, state: SimState): void {
  tokenPost(app, state, '/wxa/generatescheme', (c, config, body) => {
    const jump = body.jump_wxa ?? {}
    if (jump === null || typeof jump !== 'object' || Array.isArray(jump)) throw new WxError(40097)
    const target = jump as Record<string, unknown>
    checkTarget(target.path, target.query, target.env_version)
    checkExpiry(body, state.now())
    state.quotas.consume(config, '/wxa/generatescheme', state.now())
    return ok(c, { openlink: `weixin://dl/business/?t=${ticket()}` })
  })

  tokenPost(app, state, '/wxa/generate_urllink', (c, config, body) => {
    checkTarget(body.path, body.query, body.env_version)
    // Cloud development is not enabled for simulated apps.
    if (body.cloud_base !== undefined) throw new WxError(85088)
    checkExpiry(body, state.now())
    state.quotas.consume(config, '/wxa/generate_urllink', state.now())
    return ok(c, { url_link: `https://wxaurl.cn/${ticket()}` })
  })

  tokenPost(app, state, '/wxa/genwxashortlink', (c, config, body) => {
    const pageUrl = str(body.page_url)
    if (!pageUrl || pageUrl.length > 1024 || !plausiblePageWithQuery(pageUrl))
      throw new WxError(40066)
    if (body.page_title !== undefined && typeof body.page_title !== 'string')
      throw new WxError(40225)
    if (body.is_permanent !== undefined && typeof body.is_permanent !== 'boolean')
      throw new WxError(40097)
    state.quotas.consume(config, '/wxa/genwxashortlink', state.now())
    if (body.is_permanent === true)
      state.lifetime.consume(config.appid, 'permanent-short-link', PERMANENT_SHORT_LINKS, 85400)
    return ok(c, { link: `#小程序://${config.appid}/${ticket()}` })
  })
}
