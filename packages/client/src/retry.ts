import { InvalidInputError } from './errors.js'

/** Bounded retry with exponential backoff and jitter, for transient failures only. */
export interface RetryOptions {
  /** Extra attempts after the first. Default 2. */
  retries?: number
  /** First backoff, in milliseconds. Default 200. */
  baseDelayMs?: number
  /** Cap on one backoff, in milliseconds. Default 2000. */
  maxDelayMs?: number
}

export interface RetryPolicy {
  readonly retries: number
  readonly baseDelayMs: number
  readonly maxDelayMs: number
}

const DEFAULTS: RetryPolicy = Object.freeze({ retries: 2, baseDelayMs: 200, maxDelayMs: 2000 })

export function retryPolicy(options: RetryOptions | undefined, field: string): RetryPolicy {
  const policy = { ...DEFAULTS, ...options }
  for (const key of ['retries', 'baseDelayMs', 'maxDelayMs'] as const) {
    const value = policy[key]
    if (!Number.isInteger(value) || value < 0) {
      throw new InvalidInputError(`${field}.${key}`, 'must be a whole number ≥ 0')
    }
  }
  return Object.freeze(policy)
}

/** "Equal jitter": half the exponential step fixed, half random, so retries never synchronise. */
export function backoffDelay(policy: RetryPolicy, attempt: number, random = Math.random): number {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt)
  return Math.round(step / 2 + (random() * step) / 2)
}

/** Waits `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) {
      reject(signal.reason as Error)
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(signal?.reason as Error)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
