import { randomUUID } from 'node:crypto'

const SAFE_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** A well-formed incoming X-Request-Id (up to 128 of A-Za-z0-9._:-), or a new UUID. */
export function resolveRequestId(given: string | undefined): string {
  return given !== undefined && SAFE_ID.test(given) ? given : randomUUID()
}
