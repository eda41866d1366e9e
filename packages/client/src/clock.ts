/** Milliseconds since the epoch. Injected where time matters so tests never sleep. */
export type Clock = () => number

export const systemClock: Clock = () => Date.now()
