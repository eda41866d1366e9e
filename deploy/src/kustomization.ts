import { existsSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { parse } from 'yaml'
import type { K8sObject } from './k8s-schema.js'
import { readManifests } from './k8s-schema.js'

// Reads a kustomization.yaml and the files it names. Not a kustomize implementation: enough to
// validate a base without one (resources and ConfigMap generators), and to list what it uses.

export interface Kustomization {
  resources?: string[]
  patches?: { path?: string; patch?: string }[]
  configMapGenerator?: { name: string; behavior?: string; files?: string[] }[]
}

export function readKustomization(dir: string): Kustomization {
  return parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization
}

/** Every path the kustomization names (resources, patches, generator files), relative to dir. */
export function referencedPaths(k: Kustomization): string[] {
  return [
    ...(k.resources ?? []),
    ...(k.patches ?? []).flatMap((p) => (p.path ? [p.path] : [])),
    ...(k.configMapGenerator ?? []).flatMap((g) =>
      (g.files ?? []).map((f) => f.split('=').pop() ?? f)
    ),
  ]
}

/** Missing files among the ones the kustomization names. */
export function missingReferences(dir: string): string[] {
  return referencedPaths(readKustomization(dir)).filter((p) => !existsSync(join(dir, p)))
}

/**
 * The objects of a kustomization that has only file resources and ConfigMap generators (a base),
 * as kustomize would emit them before name hashing and label transformers.
 */
export function baseObjects(dir: string): K8sObject[] {
  const k = readKustomization(dir)
  const objects = (k.resources ?? []).flatMap((r) => {
    if (!r.endsWith('.yaml'))
      throw new Error(`${r}: only file resources can be read without kustomize`)
    return readManifests(join(dir, r))
  })
  for (const g of k.configMapGenerator ?? []) {
    // An entry is `file` (key: its base name) or `key=file`.
    const data: Record<string, string> = {}
    for (const entry of g.files ?? []) {
      const eq = entry.indexOf('=')
      const file = entry.slice(eq + 1)
      data[eq < 0 ? basename(file) : entry.slice(0, eq)] = readFileSync(join(dir, file), 'utf8')
    }
    objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data })
  }
  return objects
}
