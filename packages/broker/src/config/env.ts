import type { z } from 'zod'
import type { ConfigProblem } from './format-issues.js'
import { formatPath } from './format-issues.js'

// Two ways the environment feeds the config:
//  - `${env:NAME}` inside any YAML string is replaced by that variable (missing → a problem);
//  - WXBROKER_<PATH> overrides one value, the path written in upper snake case with list indexes
//    as numbers: WXBROKER_LISTEN_PORT, WXBROKER_STORE_REDIS (comma-separated for a quorum),
//    WXBROKER_APPS_0_SECRET, WXBROKER_CLIENTS_1_KEY_SHA256, WXBROKER_STATUS_PAGE_REQUIRE_ADMIN.
// The override names are derived from the schema itself, so every setting has one.

export const ENV_PREFIX = 'WXBROKER_'
/** Variables with the prefix that are not overrides. */
const NOT_OVERRIDES = new Set(['WXBROKER_CONFIG'])

type Env = Record<string, string | undefined>
type Json = unknown

const REFERENCE = /\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g

/** Replaces `${env:NAME}` in every string of a parsed YAML tree. */
export function interpolateEnv(
  node: Json,
  env: Env,
  problems: ConfigProblem[],
  path: PropertyKey[] = [],
  parents: object[] = []
): Json {
  if (typeof node === 'string') {
    return node.replace(REFERENCE, (_m, name: string) => {
      const value = env[name]
      if (value === undefined) {
        problems.push({
          path: formatPath(path),
          message: `refers to environment variable ${name}, which is not set; export it or change the value`,
        })
        return ''
      }
      return value
    })
  }
  if (node === null || typeof node !== 'object') return node
  // A YAML alias inside its own anchor (`&a [*a]`) makes the tree a cycle.
  if (parents.includes(node)) {
    problems.push({
      path: formatPath(path),
      message: 'contains itself (a YAML alias inside its own anchor); write the value out',
    })
    return null
  }
  const inner = [...parents, node]
  if (Array.isArray(node)) {
    return node.map((v, i) => interpolateEnv(v, env, problems, [...path, i], inner))
  }
  // fromEntries defines own properties, so a `__proto__` key stays a key (and is reported as
  // unknown) instead of setting the prototype.
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => [k, interpolateEnv(v, env, problems, [...path, k], inner)])
  )
}

type Leaf = 'string' | 'number' | 'boolean' | 'list' | 'string-or-list'
type Shape = { object: Record<string, Shape> } | { array: Shape } | { leaf: Leaf }

function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let s = schema
  for (;;) {
    const def = s._zod.def as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType }
    if (def.innerType && ['optional', 'default', 'nullable', 'prefault'].includes(def.type)) {
      s = def.innerType
    } else if (def.type === 'pipe' && def.in) {
      s = def.in
    } else return s
  }
}

/** Describes the schema as a tree of objects, arrays and typed leaves. */
export function describeSchema(schema: z.core.$ZodType): Shape {
  const s = unwrap(schema)
  const def = s._zod.def as {
    type: string
    shape?: Record<string, z.core.$ZodType>
    element?: z.core.$ZodType
    options?: z.core.$ZodType[]
  }
  switch (def.type) {
    case 'object': {
      const object: Record<string, Shape> = {}
      for (const [k, v] of Object.entries(def.shape ?? {})) object[k] = describeSchema(v)
      return { object }
    }
    case 'array': {
      const el = describeSchema(def.element as z.core.$ZodType)
      // Lists of plain values are set whole from a comma-separated variable.
      return 'leaf' in el ? { leaf: 'list' } : { array: el }
    }
    case 'union':
      return { leaf: 'string-or-list' }
    case 'number':
      return { leaf: 'number' }
    case 'boolean':
      return { leaf: 'boolean' }
    default:
      return { leaf: 'string' }
  }
}

export function toEnvSegment(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()
}

function convert(raw: string, leaf: Leaf): Json {
  const list = (): string[] =>
    raw
      .split(',')
      .map((v) => v.trim())
      .filter((v) => v !== '')
  switch (leaf) {
    case 'number':
      return /^-?\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : raw
    case 'boolean':
      if (/^(true|1|yes)$/i.test(raw.trim())) return true
      if (/^(false|0|no)$/i.test(raw.trim())) return false
      return raw
    case 'list':
      return list()
    case 'string-or-list':
      return raw.includes(',') ? list() : raw
    default:
      return raw
  }
}

/** Finds the config path an override name points at, or undefined when it names nothing. */
function resolve(
  tokens: string[],
  shape: Shape,
  path: (string | number)[]
): { path: (string | number)[]; leaf: Leaf } | undefined {
  if ('leaf' in shape) return tokens.length === 0 ? { path, leaf: shape.leaf } : undefined
  if (tokens.length === 0) return undefined
  if ('array' in shape) {
    const head = tokens[0] as string
    if (!/^\d+$/.test(head)) return undefined
    return resolve(tokens.slice(1), shape.array, [...path, Number(head)])
  }
  // Longest key first, so KEY_SHA256 wins over KEY.
  const keys = Object.keys(shape.object).sort(
    (a, b) => toEnvSegment(b).length - toEnvSegment(a).length
  )
  for (const key of keys) {
    const seg = toEnvSegment(key).split('_')
    if (seg.every((t, i) => tokens[i] === t)) {
      const found = resolve(tokens.slice(seg.length), shape.object[key] as Shape, [...path, key])
      if (found) return found
    }
  }
  return undefined
}

/** The override variable for a config path (the inverse of `resolve`). */
function overrideName(path: readonly (string | number)[]): string {
  return (
    ENV_PREFIX + path.map((s) => (typeof s === 'number' ? String(s) : toEnvSegment(s))).join('_')
  )
}

/**
 * Sets the value at `path`, creating objects and list entries on the way. A list index may name an
 * entry that exists or the next one; past that, the index where the path stops and the list's
 * length are returned and nothing is set (a hole would fail as a list of missing entries).
 */
function setPath(
  root: Record<string, Json>,
  path: (string | number)[],
  value: Json
): { at: number; length: number } | undefined {
  let node: Record<string | number, Json> = root
  for (const [i, seg] of path.entries()) {
    if (Array.isArray(node) && typeof seg === 'number' && seg > node.length) {
      return { at: i, length: node.length }
    }
    if (i === path.length - 1) {
      node[seg] = value
      return undefined
    }
    const nextIsIndex = typeof path[i + 1] === 'number'
    const existing = node[seg]
    if (existing === null || typeof existing !== 'object') node[seg] = nextIsIndex ? [] : {}
    node = node[seg] as Record<string | number, Json>
  }
  return undefined
}

/** Orders config paths with list indexes compared as numbers (apps[2] before apps[10]). */
function comparePaths(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as string | number
    const y = b[i] as string | number
    if (x === y) continue
    if (typeof x === 'number' && typeof y === 'number') return x - y
    return String(x) < String(y) ? -1 : 1
  }
  return a.length - b.length
}

/** Applies WXBROKER_* overrides onto the parsed file; returns the names it used. */
export function applyEnvOverrides(
  root: Record<string, Json>,
  shape: Shape,
  env: Env,
  problems: ConfigProblem[]
): string[] {
  const used: string[] = []
  const targets: { name: string; raw: string; path: (string | number)[]; leaf: Leaf }[] = []
  for (const name of Object.keys(env).sort()) {
    const raw = env[name]
    if (!name.startsWith(ENV_PREFIX) || NOT_OVERRIDES.has(name) || raw === undefined) continue
    const target = resolve(name.slice(ENV_PREFIX.length).split('_'), shape, [])
    if (!target) {
      problems.push({
        path: name,
        message:
          'is not a known override; name a setting in upper snake case, e.g. WXBROKER_LISTEN_PORT or WXBROKER_APPS_0_SECRET',
      })
      continue
    }
    targets.push({ name, raw, ...target })
  }
  // In path order, so that overrides adding apps[1] and then apps[2] both find their place.
  targets.sort((a, b) => comparePaths(a.path, b.path))
  for (const { name, raw, path, leaf } of targets) {
    const gap = setPath(root, path, convert(raw, leaf))
    if (gap) {
      const list = formatPath(path.slice(0, gap.at))
      const next = overrideName(path.map((s, i) => (i === gap.at ? gap.length : s)))
      problems.push({
        path: name,
        message: `${formatPath(path.slice(0, gap.at + 1))} does not exist: ${list} has ${gap.length} entr${gap.length === 1 ? 'y' : 'ies'} and indexes must be contiguous; add it in the file, or use the next index (${next})`,
      })
      continue
    }
    used.push(name)
  }
  return used
}
