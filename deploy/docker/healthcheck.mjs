// Container HEALTHCHECK: exits 0 when the broker's /healthz answers 2xx in time, else 1.
// Node's own fetch, so the image needs no curl or wget. The port follows the WXBROKER_LISTEN_PORT
// override when one is set (a port set only in the config file must be the default 8700).
/* global fetch, AbortSignal, console */
import process from 'node:process'

const port = process.env.WXBROKER_LISTEN_PORT || '8700'
const url = process.env.HEALTHCHECK_URL || `http://127.0.0.1:${port}/healthz`

try {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) })
  process.exitCode = res.ok ? 0 : 1
} catch (e) {
  console.error(`healthcheck: ${url}: ${e instanceof Error ? e.message : String(e)}`)
  process.exitCode = 1
}
