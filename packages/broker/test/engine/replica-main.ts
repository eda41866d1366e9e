// A broker replica in its own OS process, for tests that need several (cold start, SIGKILL,
// SIGSTOP). Options come from WXB_REPLICA_OPTIONS; commands arrive as JSON lines on stdin; answers
// and engine events leave as JSON lines on stdout.
import { createInterface } from 'node:readline'
import { createEngine } from '../../src/engine/index.js'
import type { EngineEventName, EngineOptions } from '../../src/engine/index.js'

interface Command {
  id: number
  op: 'readers' | 'getToken' | 'status' | 'invalidate' | 'readiness' | 'refresh'
  appid: string
  count?: number
  token?: string
}

const options = JSON.parse(process.env.WXB_REPLICA_OPTIONS ?? '{}') as EngineOptions
const engine = createEngine(options)
const send = (message: object): void => {
  process.stdout.write(JSON.stringify(message) + '\n')
}
const names: EngineEventName[] = [
  'refresh',
  'wechatRequest',
  'invalidation',
  'lockAcquire',
  'quota',
  'store',
  'foreignRefresh',
]
for (const name of names) engine.on(name, (payload) => send({ type: 'event', name, payload }))

async function run(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'readers': {
      const results = await Promise.allSettled(
        Array.from({ length: command.count ?? 1 }, () => engine.getToken(command.appid))
      )
      const tokens = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value.accessToken] : []))
      const errors = results.flatMap((r) => (r.status === 'rejected' ? [String(r.reason)] : []))
      return { tokens: [...new Set(tokens)], fulfilled: tokens.length, errors }
    }
    case 'getToken':
      return engine.getToken(command.appid)
    case 'refresh':
      return engine.refresh(command.appid)
    case 'invalidate':
      return engine.invalidate(command.appid, command.token ?? '')
    case 'status':
      return engine.status()
    case 'readiness':
      return engine.readiness()
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as Command
  run(command).then(
    (result) => send({ type: 'reply', id: command.id, result }),
    (error: unknown) => send({ type: 'reply', id: command.id, error: String(error) })
  )
})

await engine.start()
send({ type: 'ready' })
