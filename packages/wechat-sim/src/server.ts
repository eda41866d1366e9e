import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import { SimAdmin } from './admin/client.js'
import { createSimApp } from './app.js'
import { SimState } from './state/sim-state.js'
import type { SimAppInit } from './types.js'

export interface StartSimulatorOptions {
  /** TCP port; 0 (default) picks a free one. */
  port?: number
  /** Interface to listen on; default 127.0.0.1. */
  host?: string
  /** Apps registered at start (and again after an admin reset). */
  apps?: SimAppInit[]
}

export interface Simulator {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:43121 */
  url: string
  port: number
  /** Typed client for the admin API, over real HTTP. */
  admin: SimAdmin
  /** Closes the server, idle and active connections included. */
  close(): Promise<void>
}

function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1'
  return host.includes(':') ? `[${host}]` : host
}

/** Starts the simulator in this process. */
export async function startSimulator(opts: StartSimulatorOptions = {}): Promise<Simulator> {
  const host = opts.host ?? '127.0.0.1'
  const state = new SimState(opts.apps ?? [])
  const closing = new AbortController()
  const app = createSimApp(state, closing.signal)
  const server = createAdaptorServer({ fetch: app.fetch }) as Server
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const url = `http://${urlHost(host)}:${port}`
  let closed: Promise<void> | undefined
  return {
    url,
    port,
    admin: new SimAdmin(url),
    close() {
      closed ??= new Promise<void>((resolve) => {
        closing.abort()
        server.close(() => resolve())
        server.closeAllConnections()
      })
      return closed
    },
  }
}
