import type { SimAppInit } from '../types.js'

/** An app's settings with every default applied. */
export interface AppConfig {
  appid: string
  secret: string
  tokenExpiresIn: number
  tokenOverlapSeconds: number
  dailyTokenQuota: number
  forceRefreshDailyLimit: number
  unionBound: boolean
  ipAllowList: string[] | null
  loginRatePerMinute: number
  qrcodeLifetimeLimit: number
}

export function appConfig(init: SimAppInit): AppConfig {
  return {
    appid: init.appid,
    secret: init.secret,
    tokenExpiresIn: init.tokenExpiresIn ?? 7200,
    tokenOverlapSeconds: init.tokenOverlapSeconds ?? 300,
    dailyTokenQuota: init.dailyTokenQuota ?? 2000,
    forceRefreshDailyLimit: init.forceRefreshDailyLimit ?? 20,
    unionBound: init.unionBound ?? false,
    ipAllowList: init.ipAllowList ?? null,
    loginRatePerMinute: init.loginRatePerMinute ?? 100,
    // WeChat allows 100 000 getwxacode + createwxaqrcode codes per app, for its lifetime.
    qrcodeLifetimeLimit: init.qrcodeLifetimeLimit ?? 100_000,
  }
}

/** Registered apps. Registering an existing appid replaces its settings and keeps its state. */
export class Apps {
  private readonly apps = new Map<string, AppConfig>()

  register(init: SimAppInit): AppConfig {
    const config = appConfig(init)
    this.apps.set(config.appid, config)
    return config
  }

  get(appid: string): AppConfig | undefined {
    return this.apps.get(appid)
  }

  clear(): void {
    this.apps.clear()
  }
}
