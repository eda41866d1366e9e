import { Redis } from 'ioredis'
import { afterAll, describe, expect, it } from 'vitest'
import {
  assertRedisServerInstalled,
  startRedis,
  startRedisNodes,
  type RedisServers,
} from '../src/index.js'

function client(port: number): Redis {
  return new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  })
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

describe('test kit redis servers', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterAll(async () => {
    for (const c of cleanups) await c()
  })

  it('starts a server on a free port that is never 6379 and answers commands', async () => {
    const redis = await startRedis()
    cleanups.push(redis.stopAll)
    expect(redis.port).not.toBe(6379)
    expect(redis.url).toBe(`redis://127.0.0.1:${redis.port}`)
    const c = client(redis.port)
    await c.connect()
    await c.set('k', 'v')
    expect(await c.get('k')).toBe('v')
    expect(await c.config('GET', 'save')).toEqual(['save', ''])
    expect(await c.config('GET', 'appendonly')).toEqual(['appendonly', 'no'])
    c.disconnect()
  })

  it('SIGKILLs and restarts on the same port, empty', async () => {
    const redis = await startRedis()
    cleanups.push(redis.stopAll)
    const c = client(redis.port)
    await c.connect()
    await c.set('k', 'v')
    c.disconnect()
    await redis.kill()
    expect(redis.running).toBe(false)
    const down = client(redis.port)
    await expect(down.connect()).rejects.toThrow()
    down.disconnect()
    await redis.restart()
    expect(redis.running).toBe(true)
    const again = client(redis.port)
    await again.connect()
    expect(await again.get('k')).toBeNull()
    again.disconnect()
  })

  it('starts independent nodes for a quorum and leaves no process behind', async () => {
    const nodes: RedisServers = await startRedisNodes(3)
    cleanups.push(nodes.stopAll)
    expect(new Set(nodes.servers.map((s) => s.port)).size).toBe(3)
    const pids: number[] = []
    for (const s of nodes.servers) {
      const c = client(s.port)
      await c.connect()
      const info = await c.info('server')
      pids.push(Number(/process_id:(\d+)/.exec(info)?.[1]))
      c.disconnect()
    }
    expect(pids.every(alive)).toBe(true)
    await nodes.stopAll()
    expect(pids.some(alive)).toBe(false)
  })

  it('fails loudly with an install hint when the binary is missing', () => {
    expect(() => assertRedisServerInstalled('redis-server-that-does-not-exist')).toThrow(
      /apt-get install redis-server/
    )
  })
})
