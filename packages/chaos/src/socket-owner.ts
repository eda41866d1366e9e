import { readFileSync, readdirSync, readlinkSync } from 'node:fs'

// Which process is waiting on a TCP connection? The simulator names the caller's port of a held
// answer (GET /__sim/held); the kernel's socket table maps that port to a socket inode, and
// /proc/<pid>/fd maps the inode to the process that holds it. Linux only, no tools needed.

/** Inodes of the TCP sockets whose local port is `port` (IPv4 and IPv6 tables). */
export function socketInodes(port: number, procRoot = '/proc'): string[] {
  const inodes: string[] = []
  for (const table of ['net/tcp', 'net/tcp6']) {
    let text: string
    try {
      text = readFileSync(`${procRoot}/${table}`, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
      const cols = line.trim().split(/\s+/)
      const local = cols[1]
      const inode = cols[9]
      if (!local || !inode || inode === '0') continue
      const localPort = Number.parseInt(local.split(':')[1] ?? '', 16)
      if (localPort === port) inodes.push(inode)
    }
  }
  return inodes
}

/** The first of `pids` that holds one of the socket `inodes`, if any. */
export function pidHoldingSocket(
  inodes: readonly string[],
  pids: readonly number[],
  procRoot = '/proc'
): number | undefined {
  if (inodes.length === 0) return undefined
  const wanted = new Set(inodes.map((i) => `socket:[${i}]`))
  for (const pid of pids) {
    let fds: string[]
    try {
      fds = readdirSync(`${procRoot}/${pid}/fd`)
    } catch {
      continue // exited meanwhile
    }
    for (const fd of fds) {
      try {
        if (wanted.has(readlinkSync(`${procRoot}/${pid}/fd/${fd}`))) return pid
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined
}

/** Which of `pids` owns the connection whose local (client) port is `port`. */
export function pidOfLocalPort(port: number, pids: readonly number[]): number | undefined {
  return pidHoldingSocket(socketInodes(port), pids)
}
