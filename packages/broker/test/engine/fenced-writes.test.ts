import { randomBytes } from 'node:crypto'
import { startRedisNodes, type RedisServers } from '@wxbroker/testkit'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { RedisStore } from '../../src/engine/store/redis-store.js'
import type { Lease, TokenRecord } from '../../src/engine/store/types.js'
import type { Logger } from '../../src/engine/types.js'
import { eventually, newAppid, sleep } from './fixtures.js'

// Guarantee 5 at the store itself: RedisStore.writeToken, with no engine around it, so that the
// only thing refusing a late write is the script that runs on each Redis node (the engine's own
// "my lease was lost" flag is not in play).

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} }

function record(generation: number, fetchedBy = 'writer'): TokenRecord {
  return {
    token: `token-${generation}-${randomBytes(6).toString('hex')}`,
    generation,
    obtainedAt: 1_700_000_000_000 + generation,
    wechatExpiresAt: 1_700_007_200_000 + generation,
    fetchedBy,
  }
}

describe.each([
  { nodes: 1, name: 'one Redis' },
  { nodes: 3, name: 'a 3-node quorum' },
])('RedisStore.writeToken is fenced (guarantee 5): $name', ({ nodes }) => {
  let redis: RedisServers
  let direct: Redis[] = []
  let stores: RedisStore[] = []
  let prefix: string
  let slot: string

  beforeAll(async () => {
    redis = await startRedisNodes(nodes)
    direct = redis.urls.map((url) => new Redis(url))
  })
  afterAll(async () => {
    direct.forEach((c) => c.disconnect())
    await redis?.stopAll()
  })
  afterEach(async () => {
    await Promise.all(stores.map((s) => s.close()))
    stores = []
  })

  /** A slot no test writes: the listener's subscription probe. */
  const PROBE = 'probe:classic'

  /** A store as a replica has it: its own connections, the shared key prefix. */
  async function replica(): Promise<RedisStore> {
    const store = new RedisStore({ nodes: redis.urls, keyPrefix: prefix, logger: silent })
    stores.push(store)
    await store.connect()
    expect(store.isUp()).toBe(true)
    // Up means a quorum; these tests check every node, so wait for all of them (a loaded machine
    // can leave one still connecting).
    const clients = (store as unknown as { clients: { status: string }[] }).clients
    await eventually(() => clients.every((c) => c.status === 'ready'), 'every node connected')
    return store
  }

  /** Every node holds `expected` (docs/engine.md: `<prefix>:token:<appid>:<kind>`). */
  async function expectOnEveryNode(expected: TokenRecord): Promise<void> {
    const raw = await Promise.all(direct.map((c) => c.get(`${prefix}:token:${slot}`)))
    const held = raw.map((r) => {
      if (r === null) return null
      const { token, generation, obtainedAt, wechatExpiresAt, fetchedBy } = JSON.parse(
        r
      ) as TokenRecord
      return { token, generation, obtainedAt, wechatExpiresAt, fetchedBy }
    })
    expect(held).toEqual(Array.from({ length: nodes }, () => expected))
  }

  /** The stored record is `expected`, as the store reads it and on every node. */
  async function expectStored(store: RedisStore, expected: TokenRecord): Promise<void> {
    expect(await store.readToken(slot)).toEqual(expected)
    await expectOnEveryNode(expected)
  }

  /**
   * A lease held on every node. A quorum is enough for redlock, and on a loaded machine one node's
   * vote can come too late; these tests check every node, so they start from a lock on all of them.
   */
  async function held(store: RedisStore, ttlMs = 5000): Promise<Lease> {
    for (let attempt = 0; ; attempt++) {
      const lease = await store.acquire(slot, ttlMs)
      expect(lease).not.toBeNull()
      const values = await Promise.all(direct.map((c) => c.get(`${prefix}:lock:${slot}`)))
      if (values.every((v) => v === lease!.value) || attempt === 20) return lease!
      await lease!.release()
    }
  }

  /** A lease that lapsed: its holder was paused (no extension) until the lock key expired. */
  async function lapsed(store: RedisStore): Promise<Lease> {
    const lease = await held(store, 150)
    await sleep(400)
    return lease
  }

  /** Writes `stored` under a lease of its own, so the refused writes below have something to spare. */
  async function seeded(store: RedisStore, stored: TokenRecord): Promise<void> {
    const lease = await held(store)
    expect(await store.writeToken(slot, stored, lease)).toBe('ok')
    await lease.release()
    await expectOnEveryNode(stored)
  }

  /** Every announcement a second replica hears. */
  async function listener(): Promise<TokenRecord[]> {
    const heard: TokenRecord[] = []
    const store = await replica()
    let probed = false
    store.onAnnounce((s, r) => {
      if (s === slot) heard.push(r)
      if (s === PROBE) probed = true
    })
    // Its subscriptions are made once connected: publish a probe on every node until it arrives.
    const probe = JSON.stringify({ ...record(0), slot: PROBE })
    await eventually(async () => {
      await Promise.all(direct.map((c) => c.publish(`${prefix}:announce`, probe)))
      await sleep(20)
      return probed
    }, 'the listener is subscribed')
    return heard
  }

  /**
   * Refused writes announce nothing: after them a write that succeeds (a newer generation, under
   * a lock) is announced, and pub/sub keeps each node's order, so anything a refused write had
   * published would have arrived before it.
   */
  async function expectOnlyAnnounced(
    store: RedisStore,
    heard: TokenRecord[],
    stored: TokenRecord,
    lease: Lease
  ): Promise<void> {
    const marker = record(stored.generation + 100, 'marker')
    expect(await store.writeToken(slot, marker, lease)).toBe('ok')
    await eventually(
      () => heard.filter((r) => r.token === marker.token).length === nodes,
      'the marker’s announcement from every node'
    )
    expect(heard.filter((r) => r.token !== marker.token && r.token !== stored.token)).toEqual([])
  }

  beforeEach(() => {
    prefix = `fence${randomBytes(4).toString('hex')}`
    slot = `${newAppid()}:classic`
  })

  it('the happy path: the lock holder writes a newer generation, `ok`, and every replica hears of it', async () => {
    const writer = await replica()
    const heard = await listener()
    const lease = await held(writer)

    const first = record(1)
    expect(await writer.writeToken(slot, first, lease)).toBe('ok')
    await expectStored(writer, first)
    const second = record(2)
    expect(await writer.writeToken(slot, second, lease)).toBe('ok')
    await expectStored(writer, second)

    await eventually(
      () => heard.some((r) => r.generation === 2),
      'the announcement of generation 2'
    )
    // One announcement per node per write (each node publishes its own), each of a written record.
    expect(heard.every((r) => r.generation === 1 || r.generation === 2)).toBe(true)
    expect(heard.find((r) => r.generation === 2)).toEqual(second)
    await lease.release()
  })

  it('a lease whose lock lapsed (its TTL passed) cannot write, even a newer generation: `not_owner`, record unchanged', async () => {
    const writer = await replica()
    const heard = await listener()
    const stored = record(1)
    await seeded(writer, stored)

    const lease = await lapsed(writer)
    expect(await writer.writeToken(slot, record(2), lease)).toBe('not_owner')

    await expectStored(writer, stored)
    await expectOnlyAnnounced(writer, heard, stored, await held(writer))
  })

  it('a lease whose lock was taken over by another acquirer cannot write: `not_owner`, record unchanged; the new holder can', async () => {
    const late = await replica()
    const other = await replica()
    const heard = await listener()
    const stored = record(1)
    await seeded(late, stored)

    const lease = await lapsed(late)
    const taken = await held(other)
    expect(taken.value).not.toBe(lease.value)

    // The late writer's record is newer than the stored one: only the lock owner check refuses it.
    expect(await late.writeToken(slot, record(2, 'late'), lease)).toBe('not_owner')
    await expectStored(other, stored)

    const winner = record(2, 'other')
    expect(await other.writeToken(slot, winner, taken)).toBe('ok')
    await expectOnEveryNode(winner)
    await eventually(() => heard.some((r) => r.generation === 2), 'the winner’s announcement')
    expect(heard.filter((r) => r.generation === 2).every((r) => r.fetchedBy === 'other')).toBe(true)
    await taken.release()
  })

  it('a generation equal to or below the stored one is refused even under a held lock: `stale`, record unchanged', async () => {
    const writer = await replica()
    const heard = await listener()
    const stored = record(5)
    await seeded(writer, stored)

    const lease = await held(writer)
    // Same generation, another token (two refreshers that both counted from 4), then an older one.
    expect(await writer.writeToken(slot, record(5, 'twin'), lease)).toBe('stale')
    expect(await writer.writeToken(slot, record(4, 'late'), lease)).toBe('stale')
    expect(await writer.writeToken(slot, record(1, 'late'), lease)).toBe('stale')

    await expectStored(writer, stored)
    await expectOnlyAnnounced(writer, heard, stored, lease)
    await lease.release()
  })
})
