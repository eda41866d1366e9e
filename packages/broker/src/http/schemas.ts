import { z } from '@hono/zod-openapi'
import { APPID_PATTERN } from '../config/schema.js'
import type { QuotaLimit, ServedToken } from '../engine/types.js'

const QUOTA_LIMITS = [
  'daily_quota',
  'wechat_daily_quota',
  'scheduled_reserve',
  'force_refresh_daily',
  'report_daily',
  'client_report_daily',
] as const satisfies readonly QuotaLimit[]

// Wire schemas: the same objects validate requests and generate /openapi.json.

export const AppidParams = z.object({
  appid: z
    .string()
    .regex(APPID_PATTERN, { error: "appid must be 'wx' followed by 16 lowercase hex digits" })
    .openapi({ param: { name: 'appid', in: 'path' }, example: 'wx0123456789abcdef' }),
})

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'forbidden' }),
      message: z.string(),
      request_id: z.string(),
      errcode: z
        .number()
        .int()
        .optional()
        .openapi({ description: 'WeChat errcode (WeChat errors only)' }),
      errmsg: z.string().optional(),
      rid: z.string().nullable().optional(),
      limit: z.enum(QUOTA_LIMITS).optional().openapi({
        description:
          'With quota_exhausted: which limit was hit (daily_quota, wechat_daily_quota, scheduled_reserve, force_refresh_daily, report_daily, client_report_daily)',
      }),
    }),
  })
  .openapi('Error')

export const TokenBody = z
  .object({
    appid: z.string(),
    access_token: z.string(),
    expires_in: z.number().int().openapi({
      description:
        'Seconds the token may safely be used (planned rotation and overlap accounted for)',
    }),
    expires_at: z.string().openapi({
      description: 'expires_in as an RFC 3339 instant',
      example: '2026-11-23T10:00:00.000Z',
    }),
  })
  .openapi('Token')

export const InvalidateRequest = z
  .object({
    access_token: z
      .string({ error: 'access_token is required (the token that failed)' })
      .min(1)
      .max(1024),
    errcode: z.number({ error: 'errcode must be a number' }).int().optional(),
  })
  .strict()
  .openapi('InvalidateRequest')

export const InvalidateBody = TokenBody.extend({
  refreshed: z.boolean(),
  reason: z.enum(['refreshed', 'stale_report', 'cooldown', 'limited']),
}).openapi('InvalidateResult')

export const LoginRequest = z
  .object({
    js_code: z.string({ error: 'js_code is required (the code from wx.login)' }).min(1).max(256),
  })
  .strict()
  .openapi('LoginRequest')

export const LoginBody = z
  .object({
    openid: z.string(),
    session_key: z
      .string()
      .openapi({ description: 'Keep on the server; never send it to the Mini Program' }),
    unionid: z.string().optional(),
  })
  .openapi('Session')

export const AppStatusBody = z
  .object({
    appid: z.string(),
    token_kind: z.enum(['stable', 'classic']),
    state: z.enum(['cold', 'ok', 'failing', 'quota_exhausted']),
    generation: z.number().int().nullable(),
    age_seconds: z.number().int().nullable(),
    expires_in: z.number().int().nullable(),
    last_refresh: z.object({ at: z.string(), reason: z.string() }).nullable(),
    last_error: z
      .object({ errcode: z.number().int(), errmsg: z.string(), at: z.string() })
      .nullable(),
    quota: z.object({
      used: z.number().int(),
      limit: z.number().int(),
      warn: z.boolean(),
      /** Why upstream calls stopped for today, while state is quota_exhausted. */
      exhausted: z.enum(['daily_quota', 'wechat_daily_quota']).nullable(),
      /** Calls of `limit` kept for scheduled refreshes; reports and admin refreshes stop short of it. */
      scheduled_reserve: z.number().int(),
      /** Report-driven refreshes today, the app's daily bound and each client's. */
      reports: z.object({
        used: z.number().int(),
        limit: z.number().int(),
        client_limit: z.number().int(),
      }),
      /** Stable tokens: force_refresh calls today and WeChat's daily limit. */
      force_refresh: z.object({ used: z.number().int(), limit: z.number().int() }).nullable(),
      /** WeChat's own figure for the token API, from the last reconciliation. */
      wechat: z
        .object({ used: z.number().int(), limit: z.number().int(), at: z.string() })
        .nullable(),
    }),
    /** Whether WeChat accepted this replica's secret at start (unchecked, ok, rejected). */
    secret: z.enum(['unchecked', 'ok', 'rejected']),
    /** The last refresh by someone else that the broker detected, and how it showed. */
    last_foreign_refresh: z
      .object({ at: z.string(), evidence: z.enum(['count_drift', 'token_rejected']) })
      .nullable(),
  })
  .openapi('AppStatus')

export const AppsBody = z.object({ apps: z.array(AppStatusBody) }).openapi('Apps')

export const ReadinessBody = z
  .object({ ready: z.boolean(), store_up: z.boolean(), reasons: z.array(z.string()) })
  .openapi('Readiness')

export function tokenJson(t: ServedToken): z.infer<typeof TokenBody> {
  return {
    appid: t.appid,
    access_token: t.accessToken,
    expires_in: t.expiresIn,
    expires_at: new Date(t.expiresAt).toISOString(),
  }
}

export const errorResponses = (...statuses: number[]) =>
  Object.fromEntries(
    statuses.map((s) => [
      s,
      {
        description: ERROR_DESCRIPTIONS[s] ?? 'error',
        content: { 'application/json': { schema: ErrorBody } },
      },
    ])
  )

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input (invalid appid, body or JSON; invalid_code for a bad login code)',
  401: 'Missing or unknown client key',
  403: 'Key not allowed for this app or scope (code_blocked for a blocked login)',
  404: 'Unknown app',
  409: 'Login code already used (code_used)',
  413: 'Request body too large',
  429: 'Guarded: quota exhausted, cooldown, or WeChat rate limit',
  502: 'WeChat answered with an error (errcode, errmsg, rid)',
  503: 'No valid token available (Retry-After)',
}
