import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { parse, parseAllDocuments } from 'yaml'
import { describe, expect, it } from 'vitest'
import type { IDeploymentSpec } from 'kubernetes-models/apps/v1/DeploymentSpec'
import type { INetworkPolicySpec } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicySpec'
import type { IPodDisruptionBudgetSpec } from 'kubernetes-models/policy/v1/PodDisruptionBudgetSpec'
import type { IServiceSpec } from 'kubernetes-models/v1/ServiceSpec'
import type { IServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor'
import type { K8sObject } from '../src/k8s-schema.js'
import { parseManifests, readManifests, validateManifest } from '../src/k8s-schema.js'
import {
  baseObjects,
  missingReferences,
  readKustomization,
  referencedPaths,
} from '../src/kustomization.js'
import { restrictedViolations } from '../src/pod-security.js'
import { deployPath } from '../src/paths.js'
import { findKustomize } from '../src/tools.js'

const baseDir = deployPath('k8s', 'base')
const overlayDir = deployPath('k8s', 'overlays', 'example')
const kustomizationDirs = [baseDir, overlayDir]

const yamlFiles = (dir: string): string[] => readdirSync(dir).filter((f) => f.endsWith('.yaml'))
const isManifestFile = (dir: string, file: string): boolean =>
  file !== 'kustomization.yaml' &&
  !(readKustomization(dir).configMapGenerator ?? []).some((g) => g.files?.includes(file))

function only(objects: K8sObject[], kind: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind)
  expect(found, `exactly one ${kind}`).toHaveLength(1)
  return found[0] as K8sObject
}

interface BrokerConfig {
  listen: unknown
  apps: { secret?: string }[]
}
const matches = (
  selector: Record<string, string> = {},
  labels: Record<string, string> = {}
): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v)

/** What any rendering of the broker (base or overlay) must hold. */
function expectBrokerWorkload(objects: K8sObject[]): void {
  for (const o of objects) expect(validateManifest(o), `${o.kind}/${o.metadata.name}`).toEqual([])

  const deployment = only(objects, 'Deployment').spec as IDeploymentSpec
  const pod = deployment.template.spec ?? { containers: [] }
  const podLabels = deployment.template.metadata?.labels
  const replicas = deployment.replicas ?? 1
  expect(replicas).toBeGreaterThanOrEqual(2)
  expect(matches(deployment.selector.matchLabels, podLabels)).toBe(true)
  expect(restrictedViolations(pod)).toEqual([])
  expect(pod.enableServiceLinks).toBe(false)
  expect(pod.automountServiceAccountToken).toBe(false)

  const [container] = pod.containers
  expect(container?.securityContext?.readOnlyRootFilesystem).toBe(true)
  expect(container?.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'http' })
  expect(container?.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'http' })
  for (const kind of ['requests', 'limits'] as const) {
    expect(Object.keys(container?.resources?.[kind] ?? {}).sort(), `resources.${kind}`).toEqual([
      'cpu',
      'memory',
    ])
  }
  expect(container?.ports).toContainEqual(
    expect.objectContaining({ name: 'http', containerPort: 8700 })
  )
  // /tmp is the only writable path.
  const mounts = container?.volumeMounts ?? []
  expect(mounts.filter((m) => !m.readOnly).map((m) => m.mountPath)).toEqual(['/tmp'])

  // The mounted config is a broker config that listens on every interface.
  const configName = (pod.volumes ?? []).find((v) => v.name === 'config')?.configMap?.name
  const configMap = objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === configName)
  expect(configMap, `ConfigMap ${configName}`).toBeDefined()
  const configText = (configMap?.data as Record<string, string>)['wxbroker.yaml'] ?? ''
  const config = parse(configText) as BrokerConfig
  expect(config.listen).toEqual({ host: '0.0.0.0', port: 8700 })
  expect(config.apps.length).toBeGreaterThan(0)
  // Secrets are referenced, never written into the config.
  for (const app of config.apps) expect(app.secret).toMatch(/^\$\{env:[A-Z0-9_]+\}$/)

  const pdb = only(objects, 'PodDisruptionBudget').spec as IPodDisruptionBudgetSpec
  expect(matches(pdb.selector?.matchLabels, podLabels)).toBe(true)
  expect(pdb.minAvailable).toBeLessThan(replicas)

  const service = only(objects, 'Service')
  const serviceSpec = service.spec as IServiceSpec
  expect(matches(serviceSpec.selector, podLabels)).toBe(true)
  expect(serviceSpec.ports).toContainEqual(
    expect.objectContaining({ name: 'http', targetPort: 'http' })
  )

  const monitor = (only(objects, 'ServiceMonitor') as unknown as IServiceMonitor).spec
  expect(matches(monitor.selector.matchLabels, service.metadata.labels ?? {})).toBe(true)
  expect(monitor.endpoints).toContainEqual(
    expect.objectContaining({ port: 'http', path: '/metrics' })
  )

  const policy = only(objects, 'NetworkPolicy').spec as INetworkPolicySpec
  expect(matches(policy.podSelector?.matchLabels, podLabels)).toBe(true)
  expect(policy.policyTypes).toEqual(['Ingress'])
  const peers = (policy.ingress ?? []).flatMap((rule) => rule.from ?? [])
  expect(peers).toEqual([
    { namespaceSelector: {}, podSelector: { matchLabels: { 'wxbroker/client': 'true' } } },
    {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
      podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } },
    },
  ])

  // The Secret the pods read is a template: every value a placeholder.
  const secretName = container?.envFrom?.[0]?.secretRef?.name
  const secret = objects.find((o) => o.kind === 'Secret')
  if (secret) {
    expect(secret.metadata.name).toBe(secretName)
    expect(new Set(Object.values(secret.stringData as Record<string, string>))).toEqual(
      new Set(['REPLACE_ME'])
    )
    // ...and holds every variable the config names.
    const names = [...configText.matchAll(/\$\{env:(\w+)\}/g)].map((m) => m[1])
    expect(Object.keys(secret.stringData as object)).toEqual(expect.arrayContaining(names))
  }
}

describe('Kubernetes manifests', () => {
  it('every manifest file validates against the Kubernetes schemas (patches as partial objects)', () => {
    let count = 0
    for (const dir of kustomizationDirs) {
      const patches = new Set(referencedPaths({ patches: readKustomization(dir).patches }))
      for (const file of yamlFiles(dir).filter((f) => isManifestFile(dir, f))) {
        for (const obj of readManifests(join(dir, file))) {
          expect(validateManifest(obj, { partial: patches.has(file) }), `${dir}/${file}`).toEqual(
            []
          )
          count++
        }
      }
    }
    expect(count).toBeGreaterThanOrEqual(9)
  })

  it('the schema check reports bad types and unknown fields, naming them', () => {
    const edited = (file: string, from: string, to: string): K8sObject => {
      const text = readFileSync(join(baseDir, file), 'utf8')
      expect(text).toContain(from)
      return parseManifests(text.replace(from, to))[0] as K8sObject
    }
    expect(validateManifest(edited('deployment.yaml', 'replicas: 2', 'replicas: two'))).toEqual([
      'type: /spec/replicas must be integer',
    ])
    // Only the typo: free-form maps (labels, selectors) are not mistaken for unknown fields.
    expect(
      validateManifest(edited('deployment.yaml', 'readinessProbe:', 'readinessprobe:'))
    ).toEqual(['unknown field: /spec/template/spec/containers/0/readinessprobe'])
    expect(
      validateManifest(edited('servicemonitor.yaml', 'interval: 15s', 'intervall: 15s'))
    ).toEqual(['unknown field: /spec/endpoints/0/intervall'])
  })

  it('kustomizations name only files that exist, and every file in their directory is used', () => {
    for (const dir of kustomizationDirs) {
      expect(missingReferences(dir), dir).toEqual([])
      const used = new Set(referencedPaths(readKustomization(dir)))
      expect(
        yamlFiles(dir).filter((f) => f !== 'kustomization.yaml' && !used.has(f)),
        dir
      ).toEqual([])
    }
  })

  it('the base holds the broker workload: probes, restricted security, resources, PDB, policy, monitor', () => {
    const objects = baseObjects(baseDir)
    expectBrokerWorkload(objects)
    // The base leaves the Secret to the overlay (or a secret manager).
    expect(objects.filter((o) => o.kind === 'Secret')).toEqual([])
  })

  it('the restricted check catches a root, privileged container', () => {
    expect(
      restrictedViolations({
        securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
        containers: [
          {
            name: 'x',
            securityContext: {
              privileged: true,
              runAsUser: 0,
              capabilities: { add: ['SYS_ADMIN'] },
            },
          },
        ],
        volumes: [{ name: 'h', hostPath: { path: '/' } }],
      })
    ).toEqual([
      'volume h is of type hostPath',
      'container x is privileged',
      'container x: allowPrivilegeEscalation must be false',
      'container x runs as user 0',
      'container x must drop ALL capabilities',
      'container x adds capabilities SYS_ADMIN',
    ])
  })

  it('the example overlay renders (kustomize) or its patches name base objects (without one)', () => {
    const render = findKustomize()
    if (render) {
      const objects = parseAllDocuments(render(overlayDir)).map((d) => d.toJS() as K8sObject)
      expectBrokerWorkload(objects)
      expect(objects.every((o) => o.metadata.namespace === 'wxbroker')).toBe(true)
      expect((only(objects, 'Deployment').spec as IDeploymentSpec).replicas).toBe(3)
      expect(only(objects, 'ServiceMonitor').metadata.labels).toMatchObject({
        release: 'kube-prometheus-stack',
      })
      expect(only(objects, 'ConfigMap').metadata.name).toMatch(/^wxbroker-config-[a-z0-9]{10}$/)
      const base = parseAllDocuments(render(baseDir)).map((d) => d.toJS() as K8sObject)
      expectBrokerWorkload(base)
      return
    }
    // No kustomize here: each patch must target an object of the base by kind and name.
    const base = baseObjects(baseDir)
    for (const patch of readKustomization(overlayDir).patches ?? []) {
      for (const obj of readManifests(join(overlayDir, patch.path ?? ''))) {
        expect(
          base.some((b) => b.kind === obj.kind && b.metadata.name === obj.metadata.name),
          patch.path
        ).toBe(true)
      }
    }
  })
})
