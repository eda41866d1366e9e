// Lua scripts run atomically on each Redis node. Token records are JSON strings.

/** Returns 'stale' unless ARGV[2] is a newer generation than the record stored in KEYS[1]. */
const NEWER_GENERATION_ONLY = `
local current = redis.call('GET', KEYS[1])
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and tonumber(decoded.generation) >= tonumber(ARGV[2]) then return 'stale' end
end
`

/** KEYS: token, lock. ARGV: record JSON, generation, lock value, announce channel. */
export const WRITE_TOKEN = `
if redis.call('GET', KEYS[2]) ~= ARGV[3] then return 'not_owner' end
${NEWER_GENERATION_ONLY}
redis.call('SET', KEYS[1], ARGV[1])
redis.call('PUBLISH', ARGV[4], ARGV[1])
return 'ok'
`

/** KEYS: token. ARGV: record JSON, generation. Writes only over nothing or an older generation. */
export const SEED_TOKEN = `
${NEWER_GENERATION_ONLY}
redis.call('SET', KEYS[1], ARGV[1])
return 'ok'
`

/** KEYS: counter. ARGV: ttl ms. */
export const INCR_WITH_TTL = `
local n = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return n
`

/** KEYS: counter. ARGV: value, ttl ms. Sets the counter to ARGV[1] unless it holds more. */
export const RAISE_COUNTER = `
local n = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
local v = tonumber(ARGV[1])
if v > n then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return v
end
return n
`
