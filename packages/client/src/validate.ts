import { InvalidInputError } from './errors.js'

/** Option and argument checks that fail fast, naming the field and the fix (never echoing secrets). */

export function requireString(field: string, value: unknown, example: string): string {
  if (typeof value !== 'string' || value.trim() === '') {
    throw new InvalidInputError(field, `must be a non-empty string, e.g. ${example}`)
  }
  return value
}

export function optionalPositiveInt(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    throw new InvalidInputError(field, `must be a whole number > 0 (got ${describe(value)})`)
  }
  return value
}

export function optionalNonNegativeInt(field: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) {
    throw new InvalidInputError(field, `must be a whole number ≥ 0 (got ${describe(value)})`)
  }
  return value
}

/** An http(s) base URL without a trailing slash. */
export function baseUrl(field: string, value: unknown): string {
  const text = requireString(field, value, '"http://127.0.0.1:8700"')
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new InvalidInputError(
      field,
      `must be an absolute http(s) URL such as "http://127.0.0.1:8700"`
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidInputError(field, `must use http: or https: (got ${url.protocol})`)
  }
  if (url.search !== '' || url.hash !== '') {
    throw new InvalidInputError(
      field,
      'must not carry a query or fragment; pass only origin and path'
    )
  }
  return url.href.replace(/\/+$/, '')
}

function describe(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value
}
