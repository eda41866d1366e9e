import { freePort } from '@wxbroker/testkit'
import { startSimulator, type Simulator } from '@wxbroker/wechat-sim'
import { afterAll, beforeAll } from 'vitest'
import type { FetchLike } from '../../src/http.js'
import { startBrokerStub, type BrokerStub } from './broker-stub.js'

export const APPID = 'wx0c11e1700000001a'
export const SECRET = 'sim-app-secret-never-logged'
export const API_KEY = 'client-key-never-logged'
export const READ_ONLY_KEY = 'read-only-client-key'

export function startSim(): Promise<Simulator> {
  return startSimulator({
    apps: [{ appid: APPID, secret: SECRET, unionBound: true }],
  })
}

export function startStub(sim: Simulator): Promise<BrokerStub> {
  return startBrokerStub({
    wechatUrl: sim.url,
    apps: [{ appid: APPID, secret: SECRET }],
    keys: {
      [API_KEY]: {
        apps: [APPID],
        scopes: ['token:read', 'token:invalidate', 'login'],
      },
      [READ_ONLY_KEY]: { apps: '*', scopes: ['token:read'] },
    },
  })
}

/** A URL on which nothing listens: connections are refused. */
export async function deadUrl(): Promise<string> {
  return `http://127.0.0.1:${await freePort()}`
}

/** A fetch that records the origin of every request it sends. */
export function countingFetch(): { fetch: FetchLike; origins: string[] } {
  const origins: string[] = []
  return {
    origins,
    fetch: (input, init) => {
      origins.push(new URL(input).origin)
      return fetch(input, init)
    },
  }
}

/** A fresh classic token straight from the simulator, as a test's token source. */
export async function simToken(sim: Simulator): Promise<string> {
  const query = new URLSearchParams({
    grant_type: 'client_credential',
    appid: APPID,
    secret: SECRET,
  })
  const response = await fetch(`${sim.url}/cgi-bin/token?${query.toString()}`)
  const json = (await response.json()) as { access_token?: string }
  if (typeof json.access_token !== 'string') throw new Error(`no token: ${JSON.stringify(json)}`)
  return json.access_token
}

/** Resolves with what a promise rejected with (fails if it resolved). */
export async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a rejection')
}

/** Starts the simulator once for the file and closes it after; returns a getter. */
export function useSim(): () => Simulator {
  let sim: Simulator | undefined
  beforeAll(async () => {
    sim = await startSim()
  })
  afterAll(async () => {
    await sim?.close()
  })
  return () => {
    if (sim === undefined) throw new Error('the simulator is not started yet (use it inside tests)')
    return sim
  }
}

/** How many times the simulator served `endpoint` so far. */
export async function callCount(sim: Simulator, endpoint: string): Promise<number> {
  return (await sim.admin.calls())[endpoint] ?? 0
}

/** Upstream token calls the simulator served for APPID (the broker's refreshes, stable tokens). */
export async function upstreamTokenCalls(sim: Simulator): Promise<number> {
  const log = await sim.admin.callLog()
  return log.filter((e) => e.endpoint === '/cgi-bin/stable_token' && e.appid === APPID).length
}
