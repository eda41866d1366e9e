import { z } from 'zod'

/** Admin API input shapes. Every field is validated; errors name the field (see `parseInput`). */

const appid = z.string().min(1, 'appid must be a non-empty string')
const positiveInt = z.number().int().positive()
const nonNegativeInt = z.number().int().nonnegative()

export const appInitSchema = z.strictObject({
  appid,
  secret: z.string().min(1, 'secret must be a non-empty string'),
  tokenExpiresIn: positiveInt.optional(),
  tokenOverlapSeconds: nonNegativeInt.optional(),
  dailyTokenQuota: nonNegativeInt.optional(),
  forceRefreshDailyLimit: nonNegativeInt.optional(),
  unionBound: z.boolean().optional(),
  ipAllowList: z.array(z.string().min(1)).optional(),
  loginRatePerMinute: positiveInt.optional(),
  qrcodeLifetimeLimit: nonNegativeInt.optional(),
})

export const userInitSchema = z.strictObject({
  appid,
  openid: z.string().min(1),
  unionid: z.string().min(1).optional(),
  sessionKey: z.string().min(1).optional(),
})

/** Seconds a login or phone code stays valid from registration (sim clock): default 300, as
 * WeChat's 5 minutes; null never expires (the demo's printed codes). */
const codeTtlSeconds = z.number().int().positive().nullable().optional()

export const loginCodeInitSchema = z.strictObject({
  appid,
  code: z.string().min(1),
  openid: z.string().min(1),
  unionid: z.string().min(1).optional(),
  sessionKey: z.string().min(1).optional(),
  blocked: z.boolean().optional(),
  ttlSeconds: codeTtlSeconds,
})

export const phoneCodeInitSchema = z.strictObject({
  appid,
  code: z.string().min(1),
  phoneNumber: z.string().min(1),
  purePhoneNumber: z.string().min(1),
  countryCode: z.union([z.string().regex(/^\d{1,4}$/), z.number().int().nonnegative()]),
  ttlSeconds: codeTtlSeconds,
})

export const KEYWORD_TYPES = [
  'thing',
  'number',
  'letter',
  'symbol',
  'character_string',
  'time',
  'date',
  'amount',
  'phone_number',
  'car_number',
  'name',
  'phrase',
] as const

export const templateInitSchema = z.strictObject({
  appid,
  templateId: z.string().min(1),
  fields: z
    .record(z.string().regex(/^[a-z_]+\d*$/, 'field names look like thing1'), z.enum(KEYWORD_TYPES))
    .refine((f) => Object.keys(f).length > 0, 'fields must name at least one keyword'),
})

export const subscriptionGrantSchema = z.strictObject({
  appid,
  openid: z.string().min(1),
  templateId: z.string().min(1),
  count: positiveInt,
})

export const riskyKeywordsSchema = z.strictObject({
  keywords: z.array(z.string().min(1)),
  label: positiveInt.optional(),
  suggest: z.enum(['risky', 'review']).optional(),
})

export const faultSchema = z.strictObject({
  endpoint: z
    .string()
    .regex(/^(\*|\/\S*)$/, 'endpoint must be a path such as /cgi-bin/token, or *'),
  type: z.enum(['latency', 'errcode', 'http_status', 'drop']).optional(),
  latency: nonNegativeInt.optional(),
  ms: nonNegativeInt.optional(),
  holdAfterMs: nonNegativeInt.optional(),
  errcode: z.number().int().optional(),
  errmsg: z.string().optional(),
  status: z.number().int().min(100).max(599).optional(),
  body: z.string().optional(),
  /** With `status` (a 3xx): the Location header of the answer. */
  location: z.string().min(1).optional(),
  drop: z.boolean().optional(),
  times: z
    .number()
    .int()
    .refine((n) => n === -1 || n > 0, 'times must be a positive count, or -1 for until cleared')
    .optional(),
})

export const clockSetSchema = z.strictObject({ epochMs: z.number().int() })
export const clockAdvanceSchema = z.strictObject({ ms: z.number().int() })
export const tokenCheckSchema = z.strictObject({ token: z.string() })
export const tokenKindSchema = z.enum(['classic', 'stable'])

export type SimAppInit = z.infer<typeof appInitSchema>
export type SimUserInit = z.infer<typeof userInitSchema>
export type SimLoginCodeInit = z.infer<typeof loginCodeInitSchema>
export type SimPhoneCodeInit = z.infer<typeof phoneCodeInitSchema>
export type KeywordType = (typeof KEYWORD_TYPES)[number]
export type SimTemplateInit = z.infer<typeof templateInitSchema>
export type SimSubscriptionGrant = z.infer<typeof subscriptionGrantSchema>
export type SimRiskyKeywords = z.infer<typeof riskyKeywordsSchema>
export type SimFault = z.infer<typeof faultSchema>
export type TokenKind = z.infer<typeof tokenKindSchema>
