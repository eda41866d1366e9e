import { createServer, type Server } from 'node:net'
import { once } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { spawnTracked, type TrackedProcess } from '@wxbroker/testkit'
import { pidOfLocalPort, socketInodes } from '../src/socket-owner.js'

let server: Server | undefined
let children: TrackedProcess[] = []
afterEach(async () => {
  await Promise.all(children.map((c) => c.stop('SIGKILL')))
  children = []
  server?.close()
})

/** A child process that connects to `port` and prints its own side's port. */
async function connectingChild(port: number): Promise<{ proc: TrackedProcess; localPort: number }> {
  const script = `const s = require('node:net').connect(${port}, '127.0.0.1', () => console.log(s.localPort)); setInterval(() => {}, 1000)`
  const proc = spawnTracked(process.execPath, ['-e', script])
  children.push(proc)
  const [chunk] = (await once(proc.child.stdout!, 'data')) as [Buffer]
  return { proc, localPort: Number(chunk.toString().trim()) }
}

describe('socket owner', () => {
  it('finds the process on the client side of a connection among candidates', async () => {
    server = createServer()
    server.listen(0, '127.0.0.1')
    await once(server, 'listening')
    const port = (server.address() as { port: number }).port
    const a = await connectingChild(port)
    const b = await connectingChild(port)
    expect(socketInodes(a.localPort).length).toBeGreaterThan(0)
    const pids = [process.pid, a.proc.child.pid!, b.proc.child.pid!]
    expect(pidOfLocalPort(a.localPort, pids)).toBe(a.proc.child.pid)
    expect(pidOfLocalPort(b.localPort, pids)).toBe(b.proc.child.pid)
    // Only the candidates are searched: the server side belongs to this process, not a child.
    expect(pidOfLocalPort(a.localPort, [b.proc.child.pid!])).toBeUndefined()
  })

  it('answers undefined for a port no socket uses', () => {
    expect(pidOfLocalPort(1, [process.pid])).toBeUndefined()
  })
})
