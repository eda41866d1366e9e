// The /v1 routes, named once: the route declarations, the token GET's hot path and the metric
// and access-line labels all take them from here.
export const ROUTES = {
  token: '/v1/apps/{appid}/token',
  invalidate: '/v1/apps/{appid}/token/invalidate',
  refresh: '/v1/apps/{appid}/token/refresh',
  login: '/v1/apps/{appid}/jscode2session',
  apps: '/v1/apps',
} as const
