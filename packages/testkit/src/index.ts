export { freePort } from './ports.js'
export { spawnTracked, type TrackedProcess } from './processes.js'
export { answersOk, startServerProcess, type ServerProcess } from './server-process.js'
export {
  assertRedisServerInstalled,
  startRedis,
  startRedisNodes,
  type RedisServer,
  type RedisServers,
} from './redis.js'
export {
  BROKER_BIN,
  serveBroker,
  spawnBroker,
  writeConfig,
  type BrokerProcess,
} from './broker-process.js'
export { machine, table, writeBenchmarkSection, writeDocSection } from './benchmarks.js'
export {
  familyOf,
  parsePrometheus,
  type Exposition,
  type MetricType,
  type Sample,
} from './prometheus-text.js'
export { registerSubscriber } from './sim-fixtures.js'
