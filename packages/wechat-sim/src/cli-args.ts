import { parseArgs } from 'node:util'
import type { StartSimulatorOptions } from './server.js'

export const USAGE = `usage: wechat-sim --port N [--host H] [--app APPID:SECRET]...

  --port N             TCP port (0 picks a free one)
  --host H             interface to listen on (default 127.0.0.1)
  --app APPID:SECRET   register an app at start; repeat for more apps`

/** Parses the CLI arguments; throws an Error whose message says what to fix. */
export function parseCliArgs(argv: string[]): StartSimulatorOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      app: { type: 'string', multiple: true },
    },
    strict: true,
  })
  if (values.port === undefined) throw new Error('--port is required (0 picks a free one)')
  const port = Number(values.port)
  if (!/^\d+$/.test(values.port) || port > 65535)
    throw new Error(`--port must be a TCP port number 0-65535 (got ${values.port})`)
  const apps = (values.app ?? []).map((spec) => {
    const at = spec.indexOf(':')
    if (at <= 0 || at === spec.length - 1)
      throw new Error(`--app must look like APPID:SECRET (got an argument without both parts)`)
    return { appid: spec.slice(0, at), secret: spec.slice(at + 1) }
  })
  return { port, ...(values.host === undefined ? {} : { host: values.host }), apps }
}
