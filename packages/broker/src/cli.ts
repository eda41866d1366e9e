// The `wxbroker` executable (bin/wxbroker.js loads this file).
import { installFatalHandlers, reportFatal } from './commands/fatal-error.js'
import { main } from './commands/run-cli.js'

// Before anything else: an uncaught error must end as one scrubbed line, never Node's stack dump.
installFatalHandlers()
const code = await main(process.argv.slice(2)).catch(reportFatal)
if (code !== 'running') process.exitCode = code
