import { readFileSync } from 'node:fs'
import { parseAllDocuments } from 'yaml'
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap'
import { Secret } from 'kubernetes-models/v1/Secret'
import { Service } from 'kubernetes-models/v1/Service'
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount'
import { Deployment } from 'kubernetes-models/apps/v1/Deployment'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy'
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'

// Validation of Kubernetes manifests against the API's OpenAPI schemas (kubernetes-models'
// compiled validators), plus what those validators let through: fields the schema does not know
// (a typo such as `readinessprobe` would otherwise pass and be dropped by the API server).

export interface K8sObject {
  apiVersion: string
  kind: string
  metadata: { name: string; namespace?: string; labels?: Record<string, string> }
  [field: string]: unknown
}

// The model classes deep-copy their input in the constructor, so their validate() is called on
// the tracked data itself (it only hands `this` to the compiled schema validator).
interface ModelClass {
  prototype: { validate(this: unknown): void }
}

const MODELS: Record<string, ModelClass> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
}

export function readManifests(path: string): K8sObject[] {
  return parseManifests(readFileSync(path, 'utf8'))
}

export function parseManifests(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => doc.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null)
}

interface Access {
  path: string
  keys: string[]
  read: Set<string>
  listed: boolean
}

/**
 * Wraps a JSON tree in proxies that record which keys the validator looks at. The compiled
 * validator reads every property its schema declares and lists the keys of free-form maps
 * (labels, data); an object key it never read is one the schema does not declare.
 */
function tracked(value: unknown, path: string, log: Access[]): unknown {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((v, i) => tracked(v, `${path}/${i}`, log))
  const access: Access = { path, keys: Object.keys(value), read: new Set(), listed: false }
  log.push(access)
  const copy = Object.fromEntries(
    Object.entries(value).map(([k, v]) => [k, tracked(v, `${path}/${k}`, log)])
  )
  return new Proxy(copy, {
    get(target, key, receiver) {
      if (typeof key === 'string') access.read.add(key)
      return Reflect.get(target, key, receiver) as unknown
    },
    has(target, key) {
      if (typeof key === 'string') access.read.add(key)
      return Reflect.has(target, key)
    },
    ownKeys(target) {
      access.listed = true
      return Reflect.ownKeys(target)
    },
  })
}

function schemaErrors(Model: ModelClass, data: unknown): string[] {
  try {
    Model.prototype.validate.call(data)
    return []
  } catch (e) {
    const errors = (e as { errors?: { instancePath: string; message?: string; keyword: string }[] })
      .errors
    if (!errors) return [e instanceof Error ? e.message : String(e)]
    return errors.map((err) =>
      `${err.keyword}: ${err.instancePath || '/'} ${err.message ?? ''}`.trim()
    )
  }
}

export interface ValidateOptions {
  /** A patch: a partial object, so missing required fields are fine. */
  partial?: boolean
}

/** Problems with one manifest, each naming the field; empty when it is valid. */
export function validateManifest(obj: K8sObject, opts: ValidateOptions = {}): string[] {
  const Model = MODELS[`${obj.apiVersion}/${obj.kind}`]
  if (!Model) return [`no schema known for ${obj.apiVersion} ${obj.kind}; add it to MODELS`]
  const log: Access[] = []
  const problems = schemaErrors(Model, tracked(obj, '', log)).filter(
    (p) => !(opts.partial && p.startsWith('required:'))
  )
  // The validator stops at its first error, leaving later keys unread: judge only a clean pass.
  if (problems.length > 0) return problems
  for (const a of log) {
    // Nothing read: a free-form subtree the schema does not describe (or never reached).
    if (a.listed || a.read.size === 0) continue
    for (const key of a.keys) {
      if (!a.read.has(key)) problems.push(`unknown field: ${a.path}/${key}`)
    }
  }
  return problems
}
