// The `wxbroker` executable (bin/wxbroker.js loads this file).
import { main } from './run-cli.js'

const code = await main(process.argv.slice(2))
if (code !== 'running') process.exitCode = code
