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

/** Longest access_token accepted in a report: WeChat tells callers to keep 512 characters for it. */
export const MAX_ACCESS_TOKEN_LENGTH = 512
/** Longest js_code accepted: wx.login codes are 32 characters; 128 leaves room and no more. */
export const MAX_JS_CODE_LENGTH = 128

/** A value's JSON type for a message ("a number"), never the value itself. */
function jsonType(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  const t = typeof value
  return t === 'object' ? 'an object' : `a ${t}`
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  object: 'a JSON object',
}

/**
 * The one error map of request schemas: the message says what is wrong with a field (missing,
 * wrong type, empty, too long, badly formed, unknown) and never quotes the value, which may be a
 * token or a login code. describeValidationError puts the field's name in front.
 */
function requestIssue(
  opts: { what?: string; format?: string; fields?: readonly string[] } = {}
): z.core.$ZodErrorMap {
  const what = opts.what === undefined ? '' : ` (${opts.what})`
  return (iss) => {
    switch (iss.code) {
      case 'invalid_type': {
        const expected = TYPE_NAMES[iss.expected] ?? iss.expected
        if (iss.input === undefined) return `is missing${what}`
        if (iss.expected === 'int') return `must be ${expected}`
        return `must be ${expected}, got ${jsonType(iss.input)}`
      }
      case 'too_small':
        if (iss.origin === 'string') {
          return iss.minimum === 1
            ? `is empty${what}`
            : `is too short: at least ${iss.minimum} characters`
        }
        return `must be at least ${iss.minimum}`
      case 'too_big':
        return iss.origin === 'string'
          ? `is too long: at most ${iss.maximum} characters`
          : `must be at most ${iss.maximum}`
      case 'invalid_format':
        return opts.format ?? 'is badly formed'
      case 'unrecognized_keys':
        // Unknown names are not echoed: a careless caller may have put a token there.
        return `has ${iss.keys.length === 1 ? 'an unknown field' : `${iss.keys.length} unknown fields`}; it takes only ${(opts.fields ?? []).join(', ')}`
      default:
        return 'is invalid'
    }
  }
}

/** A JSON request body: an object with exactly these fields, with the messages above. */
function requestBody<T extends z.ZodRawShape>(shape: T) {
  return z.object(shape, { error: requestIssue({ fields: Object.keys(shape) }) }).strict()
}

export const AppidParams = z.object({
  appid: z
    .string({
      error: requestIssue({ format: "must be 'wx' followed by 16 lowercase hex digits" }),
    })
    .regex(APPID_PATTERN)
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

export const InvalidateRequest = requestBody({
  access_token: z
    .string({ error: requestIssue({ what: 'the token WeChat rejected' }) })
    .min(1)
    .max(MAX_ACCESS_TOKEN_LENGTH),
  errcode: z
    .number({ error: requestIssue({ what: "WeChat's errcode, e.g. 40001" }) })
    .int()
    .min(-(2 ** 31))
    .max(2 ** 31 - 1)
    .optional(),
}).openapi('InvalidateRequest')

export const InvalidateBody = TokenBody.extend({
  refreshed: z.boolean(),
  reason: z.enum(['refreshed', 'stale_report', 'cooldown', 'limited']),
}).openapi('InvalidateResult')

export const LoginRequest = requestBody({
  js_code: z
    .string({ error: requestIssue({ what: 'the code from wx.login' }) })
    .min(1)
    .max(MAX_JS_CODE_LENGTH),
}).openapi('LoginRequest')

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

export const ReadinessQuery = z.object({
  strict: z
    .enum(['true', 'false'], { error: 'strict must be true or false' })
    .optional()
    .openapi({
      param: { name: 'strict', in: 'query' },
      description:
        'true: also 503 on any degradation (the store included), for operators and tests',
    }),
})

export const ReadinessBody = z
  .object({
    ready: z.boolean(),
    store_up: z.boolean(),
    reasons: z
      .array(z.string())
      .openapi({ description: 'Why it is not ready, for people (empty when ready)' }),
    degraded: z.array(z.string()).openapi({
      description:
        'Stable machine-readable reasons for what is not fully working: not_started, ' +
        'store_unreachable, no_token:<appid>, app_failing:<appid>, quota_warn:<appid>, ' +
        'quota_exhausted:<appid> (more may be added)',
      example: ['store_unreachable'],
    }),
  })
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
