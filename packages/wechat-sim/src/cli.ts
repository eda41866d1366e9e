import { parseCliArgs, USAGE } from './cli-args.js'
import { startSimulator, type Simulator } from './server.js'

/** `wechat-sim --port N [--host H] [--app APPID:SECRET]...`: runs until SIGINT or SIGTERM. */
async function main(): Promise<void> {
  let options
  try {
    options = parseCliArgs(process.argv.slice(2))
  } catch (e) {
    process.stderr.write(`wechat-sim: ${(e as Error).message}\n${USAGE}\n`)
    process.exit(2)
  }
  const running: { sim?: Simulator } = {}
  const stop = (): void => {
    void (running.sim?.close() ?? Promise.resolve()).then(() => process.exit(0))
  }
  // Handlers go in before the URL is printed: a caller may signal as soon as it reads it.
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
  running.sim = await startSimulator(options)
  process.stdout.write(`wechat-sim listening on ${running.sim.url}\n`)
}

main().catch((e: unknown) => {
  process.stderr.write(`wechat-sim: ${(e as Error).message}\n`)
  process.exit(1)
})
