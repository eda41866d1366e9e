import { isIP } from 'node:net'

// What `listen.host` and the host of a Redis URL may be: an IP literal, or a name the resolver can
// look up. Labels follow RFC 1123 (letters, digits, hyphens inside, at most 63 characters, 253 in
// all, an optional final dot); underscores are let through because Docker and Compose service
// names use them and the system resolver answers for them. A name whose last label is all digits
// is refused: it would be read as a (broken) IPv4 address, e.g. 10.0.0.300.

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?$/

/** True for an IP address (IPv6 without brackets) or a syntactically valid host name. */
export function isHostName(host: string): boolean {
  if (isIP(host) !== 0) return true
  const name = host.endsWith('.') ? host.slice(0, -1) : host
  const labels = name.split('.')
  return (
    name.length > 0 &&
    name.length <= 253 &&
    labels.every((l) => LABEL.test(l)) &&
    !/^\d+$/.test(labels[labels.length - 1] ?? '')
  )
}
