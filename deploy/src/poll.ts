/**
 * Calls `read` until `done` accepts its value or `timeoutMs` has passed, and returns the last
 * value either way: the caller asserts on it, so a timeout fails with what was actually seen.
 */
export async function pollUntil<T>(
  read: () => Promise<T>,
  done: (value: T) => boolean,
  timeoutMs: number,
  intervalMs = 200
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  let value = await read()
  while (!done(value) && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, intervalMs))
    value = await read()
  }
  return value
}
