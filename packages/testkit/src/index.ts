export { freePort } from './ports.js'
export { spawnTracked, type TrackedProcess } from './processes.js'
export {
  assertRedisServerInstalled,
  startRedis,
  startRedisNodes,
  type RedisServer,
  type RedisServers,
} from './redis.js'
