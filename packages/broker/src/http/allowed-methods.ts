import type { Hono } from 'hono'
import type { BrokerEnv } from './env.js'

/**
 * The methods `app` answers on `path`, asked of its own router: a route registered anywhere is
 * counted and no second list can drift from the routes. Middleware (method ALL) does not count; HEAD
 * is allowed wherever GET is, as Hono answers HEAD with the GET route. Empty: no such route.
 */
export function allowedMethods(app: Hono<BrokerEnv>, path: string): string[] {
  const methods = new Set<string>()
  for (const r of app.routes) if (r.method !== 'ALL') methods.add(r.method)
  const allowed: string[] = []
  for (const method of methods) {
    const [matches] = app.router.match(method, path)
    if (matches.some(([[, route]]) => route.method !== 'ALL')) allowed.push(method)
  }
  if (allowed.includes('GET')) allowed.push('HEAD')
  return allowed.sort()
}
