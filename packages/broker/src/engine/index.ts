export { createEngine, DEFAULT_TUNING } from './token-engine.js'
export { systemClock, shanghaiDay, nextShanghaiMidnight } from './clock.js'
export * from './types.js'
