import type { IPodSpec } from 'kubernetes-models/v1/PodSpec'

// Kubernetes Pod Security Standards, "restricted" profile: the checks that apply to a pod
// template written by hand (https://kubernetes.io/docs/concepts/security/pod-security-standards/).

const ALLOWED_VOLUME_TYPES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
])

/** Every way the pod spec falls short of the restricted profile; empty when it complies. */
export function restrictedViolations(pod: IPodSpec): string[] {
  const problems: string[] = []
  const podCtx = pod.securityContext ?? {}
  if (pod.hostNetwork || pod.hostPID || pod.hostIPC) problems.push('host namespaces are shared')
  for (const v of pod.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name')
    if (type && !ALLOWED_VOLUME_TYPES.has(type))
      problems.push(`volume ${String(v.name)} is of type ${type}`)
  }
  if (podCtx.runAsUser === 0) problems.push('pod runs as user 0')
  for (const c of [...pod.containers, ...(pod.initContainers ?? [])]) {
    const ctx = c.securityContext ?? {}
    const where = `container ${c.name}`
    if (ctx.privileged) problems.push(`${where} is privileged`)
    if (ctx.allowPrivilegeEscalation !== false)
      problems.push(`${where}: allowPrivilegeEscalation must be false`)
    if (!(ctx.runAsNonRoot ?? podCtx.runAsNonRoot))
      problems.push(`${where}: runAsNonRoot must be true`)
    if (ctx.runAsUser === 0) problems.push(`${where} runs as user 0`)
    if (!ctx.capabilities?.drop?.includes('ALL'))
      problems.push(`${where} must drop ALL capabilities`)
    const added = (ctx.capabilities?.add ?? []).filter((cap) => cap !== 'NET_BIND_SERVICE')
    if (added.length > 0) problems.push(`${where} adds capabilities ${added.join(', ')}`)
    const seccomp = ctx.seccompProfile?.type ?? podCtx.seccompProfile?.type
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') {
      problems.push(`${where}: seccompProfile must be RuntimeDefault or Localhost`)
    }
    if (c.ports?.some((p) => p.hostPort)) problems.push(`${where} uses a hostPort`)
  }
  return problems
}
