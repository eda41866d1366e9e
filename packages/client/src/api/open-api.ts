import type { CallOptions } from '../http.js'
import { InvalidInputError } from '../errors.js'
import type { WeChatExecutor } from '../wechat-executor.js'

interface RateLimit {
  call_count: number
  refresh_second: number
}

export interface ApiQuota {
  quota: { daily_limit: number; used: number; remain: number }
  /** Absent on older answers. */
  rate_limit?: RateLimit
  component_rate_limit?: RateLimit
}

export interface OpenApiApi {
  /** Today's quota of one API, e.g. `getApiQuota('/cgi-bin/token')`. */
  getApiQuota(cgiPath: string, options?: CallOptions): Promise<ApiQuota>
}

export function openApiApi(exec: WeChatExecutor): OpenApiApi {
  return {
    async getApiQuota(cgiPath, options) {
      if (typeof cgiPath !== 'string' || !cgiPath.startsWith('/')) {
        throw new InvalidInputError(
          'cgiPath',
          'must be an API path with a leading slash, e.g. "/cgi-bin/token"'
        )
      }
      const json = await exec.json<ApiQuota>(
        { method: 'POST', path: '/cgi-bin/openapi/quota/get', body: { cgi_path: cgiPath } },
        options
      )
      const { quota, rate_limit: rate, component_rate_limit: component } = json
      return {
        quota,
        ...(rate === undefined ? {} : { rate_limit: rate }),
        ...(component === undefined ? {} : { component_rate_limit: component }),
      }
    },
  }
}
