import type { CallOptions } from '../http.js'
import { requireString } from '../validate.js'
import type { WeChatExecutor } from '../wechat-executor.js'

type EnvVersion = 'release' | 'trial' | 'develop'

/** Expiry shared by URL Scheme and URL Link: 0 = at `expire_time`, 1 = after `expire_interval` days (≤30). */
interface Expiry {
  expire_type?: 0 | 1
  expire_time?: number
  expire_interval?: number
}

export interface GenerateSchemeParams extends Expiry {
  jump_wxa?: { path?: string; query?: string; env_version?: EnvVersion }
}

export interface GenerateUrlLinkParams extends Expiry {
  path?: string
  query?: string
  env_version?: EnvVersion
  cloud_base?: {
    env: string
    domain?: string
    path?: string
    query?: string
    resource_appid?: string
  }
}

export interface GenerateShortLinkParams {
  /** Page with optional query, ≤1024 chars. */
  page_url: string
  page_title?: string
  is_permanent?: boolean
}

export interface UrlSchemeApi {
  generate(params?: GenerateSchemeParams, options?: CallOptions): Promise<{ openlink: string }>
}
export interface UrlLinkApi {
  generate(params?: GenerateUrlLinkParams, options?: CallOptions): Promise<{ url_link: string }>
}
export interface ShortLinkApi {
  generate(params: GenerateShortLinkParams, options?: CallOptions): Promise<{ link: string }>
}

/** Calls a link endpoint and returns just its one result field. */
async function link<K extends string>(
  exec: WeChatExecutor,
  path: string,
  field: K,
  body: unknown,
  options: CallOptions | undefined
): Promise<Record<K, string>> {
  const json = await exec.json<Record<string, unknown>>({ method: 'POST', path, body }, options)
  return { [field]: json[field] } as Record<K, string>
}

export function urlSchemeApi(exec: WeChatExecutor): UrlSchemeApi {
  return {
    generate: (params = {}, options) =>
      link(exec, '/wxa/generatescheme', 'openlink', params, options),
  }
}

export function urlLinkApi(exec: WeChatExecutor): UrlLinkApi {
  return {
    generate: (params = {}, options) =>
      link(exec, '/wxa/generate_urllink', 'url_link', params, options),
  }
}

export function shortLinkApi(exec: WeChatExecutor): ShortLinkApi {
  return {
    generate(params, options) {
      requireString('params.page_url', params?.page_url, '"pages/index/index?id=1"')
      return link(exec, '/wxa/genwxashortlink', 'link', params, options)
    },
  }
}
