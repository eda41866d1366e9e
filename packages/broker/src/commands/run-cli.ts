import { parseArgs } from 'node:util'
import { checkConfigCommand } from './check-config.js'
import { hashKeyCommand } from './hash-key.js'
import { serveCommand } from './serve.js'

const USAGE = `usage: wxbroker <command> [options]

commands:
  serve [--config PATH]         run the broker (config: --config, WXBROKER_CONFIG, ./wxbroker.yaml)
  check-config [--config PATH]  validate the config; exit 0, or 1 listing every problem
  hash-key [KEY]                print a key (random when none is given) and its SHA-256
  demo [--port N]               WeChat simulator + broker on the in-memory store, with curl lines
`

// A reader that stops early (`wxbroker check-config | head -1`) is no failure of the command: the
// rest of its output is dropped and it ends with its own exit code, instead of dying on Node's
// unhandled EPIPE with a stack trace.
let stdoutGone = false
let stdoutGuarded = false
const out = (line: string): void => {
  if (!stdoutGuarded) {
    stdoutGuarded = true
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e
      stdoutGone = true
    })
  }
  if (!stdoutGone) process.stdout.write(`${line}\n`)
}
const err = (line: string): void => void process.stderr.write(`${line}\n`)

export async function main(argv: string[]): Promise<number | 'running'> {
  const [command, ...rest] = argv
  const parsed = (): {
    config?: string | undefined
    port?: string | undefined
    positionals: string[]
  } => {
    const { values, positionals } = parseArgs({
      args: rest,
      options: { config: { type: 'string', short: 'c' }, port: { type: 'string' } },
      allowPositionals: true,
    })
    return { ...values, positionals }
  }
  try {
    switch (command) {
      case 'serve':
        return await serveCommand(parsed().config, err)
      case 'check-config':
        return checkConfigCommand(parsed().config, out, err)
      case 'hash-key':
        return hashKeyCommand(parsed().positionals, out)
      case 'demo': {
        // Loaded only here: the demo needs the simulator, which production bundles do not ship.
        const demo = await import('./demo.js').catch((e: unknown) => {
          if ((e as NodeJS.ErrnoException).code !== 'ERR_MODULE_NOT_FOUND') throw e
          return undefined
        })
        if (!demo) {
          err('wxbroker demo needs the repository checkout (the WeChat simulator is a development')
          err(
            'package, not part of production installs): run `pnpm demo` from the repository root.'
          )
          return 1
        }
        return await demo.demoCommand({ port: parsed().port }, out)
      }
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        out(USAGE)
        return command === undefined ? 2 : 0
      default:
        err(`unknown command "${command}"\n${USAGE}`)
        return 2
    }
  } catch (e) {
    if (e instanceof TypeError && (e as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      err(`${e.message}\n${USAGE}`)
      return 2
    }
    throw e
  }
}
