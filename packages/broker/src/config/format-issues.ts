import type { z } from 'zod'

/** One configuration problem: where, and what is wrong with the fix. Never holds a secret value. */
export interface ConfigProblem {
  path: string
  message: string
}

/** Fields whose values are never repeated back, even when they are wrong. */
const SECRET_FIELDS = new Set(['secret', 'key', 'keySha256'])

export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else out += out === '' ? String(seg) : `.${String(seg)}`
  }
  return out === '' ? '(root)' : out
}

/**
 * Hides what a URL may carry besides its address: the user name and password (everything up to
 * the last @, since a password with an unencoded / or @ is exactly the URL that fails to parse and
 * is shown) and the query (`?password=` is a Redis option too).
 */
export function maskUrlSecrets(value: string): string {
  const masked = value.replace(
    /^([a-z][a-z0-9+.-]*:\/\/)?[^]*@/i,
    (_m, scheme?: string) => `${scheme ?? ''}***@`
  )
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(masked) ? masked.replace(/\?[^#]*/, '?***') : masked
}

function showValue(value: unknown): string | undefined {
  if (typeof value === 'string') {
    const masked = maskUrlSecrets(value)
    return JSON.stringify(masked.length > 80 ? `${masked.slice(0, 77)}...` : masked)
  }
  if (typeof value === 'number' || typeof value === 'boolean') {
    return String(value)
  }
  return undefined
}

function isSecretPath(path: readonly PropertyKey[]): boolean {
  return path.some((seg) => typeof seg === 'string' && SECRET_FIELDS.has(seg))
}

/** Known keys of the object at `path` in the schema, for "unknown key" hints. */
export type KnownKeys = (path: readonly PropertyKey[]) => string[]

export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  knownKeys: KnownKeys
): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(issue.path)
      for (const key of issue.keys) {
        problems.push({
          path: formatPath([...issue.path, key]),
          message: `is not a known setting; remove it or fix the spelling (known here: ${known.join(', ')})`,
        })
      }
      continue
    }
    const input = (issue as { input?: unknown }).input
    let message = issue.message
    if (input === undefined && issue.code === 'invalid_type') {
      message = `is missing; it ${message}`
    } else if (!isSecretPath(issue.path)) {
      const shown = showValue(input)
      if (shown !== undefined) message = `${message} (got ${shown})`
    }
    problems.push({ path: formatPath(issue.path), message })
  }
  return problems
}

export function problemsToText(problems: readonly ConfigProblem[]): string {
  return problems.map((p) => `${p.path}: ${p.message}`).join('\n')
}
