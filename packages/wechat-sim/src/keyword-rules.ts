import type { KeywordType } from './types.js'

const HAN = /^\p{Script=Han}+$/u
const DATE = String.raw`(\d{4}年\d{1,2}月\d{1,2}日|\d{4}-\d{1,2}-\d{1,2}|\d{4}/\d{1,2}/\d{1,2})`
const CLOCK = String.raw`([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?`
const TIME_POINT = new RegExp(`^(${DATE}\\s*)?${CLOCK}$|^${DATE}$`)
const DATE_POINT = new RegExp(`^${DATE}(\\s*${CLOCK})?$`)

/** A value, or a range `a~b` of two values, each matching `point`. */
function pointOrRange(value: string, point: RegExp): boolean {
  const parts = value.split('~').map((p) => p.trim())
  return parts.length <= 2 && parts.every((p) => point.test(p))
}

/**
 * WeChat's value rules per subscribe-message keyword type (D-sub "参数值内容限制说明"). The
 * simulator checks lengths in characters (code points), as WeChat counts them.
 */
const RULES: Record<KeywordType, (v: string) => boolean> = {
  thing: (v) => [...v].length <= 20,
  number: (v) => v.length <= 32 && /^\d+(\.\d+)?$/.test(v),
  letter: (v) => v.length <= 32 && /^[A-Za-z]+$/.test(v),
  symbol: (v) => [...v].length <= 5 && /^[^\p{L}\p{N}\s]+$/u.test(v),
  character_string: (v) => v.length <= 32 && /^[\x21-\x7e]+$/.test(v),
  time: (v) => pointOrRange(v, TIME_POINT),
  date: (v) => pointOrRange(v, DATE_POINT),
  amount: (v) => /^[¥￥$€£]?\d{1,10}(\.\d{1,2})?元?$/.test(v),
  phone_number: (v) => v.length <= 17 && /^[\d+\-() ]+$/.test(v) && /\d/.test(v),
  car_number: (v) =>
    [...v].length <= 8 && /^[\p{Script=Han}A-Z0-9][A-Z0-9]*[\p{Script=Han}A-Z0-9]?$/u.test(v),
  name: (v) =>
    (HAN.test(v) && [...v].length <= 10) || (v.length <= 20 && /^[A-Za-z][A-Za-z .·-]*$/.test(v)),
  phrase: (v) => HAN.test(v) && [...v].length <= 5,
}

/** True when `value` is acceptable for a keyword of `type` (never empty). */
export function keywordValueValid(type: KeywordType, value: unknown): boolean {
  return typeof value === 'string' && value.length > 0 && RULES[type](value)
}
