// A client process of the soak: a sibling service on @wxbroker/client. For each app it makes a
// token-checked WeChat call (openApi.getApiQuota) every 50-200 ms and reports each call, with the
// token (by id, never the token) and WeChat's errcode of every attempt, as a JSON line on stdout.
// SIGTERM: finish the calls in flight, report, exit 0.
import { BrokerTokenProvider, MiniProgramClient, type FetchLike } from '@wxbroker/client'
import { seededRandom } from './random.js'
import { tokenId } from './settings.js'

export interface ClientOptions {
  index: number
  /** Every replica, in this client's order of preference. */
  brokerUrls: string[]
  apiKey: string
  wechatUrl: string
  apps: { appid: string; tokenApi: string }[]
  seed: number
  minIntervalMs: number
  maxIntervalMs: number
  skewSeconds: number
}

/** One attempt of a call at WeChat: token id, errcode (null: no JSON answer), HTTP status (0: none). */
export type Attempt = [token: string, errcode: number | null, status: number]

export type ClientLine =
  | { e: 'ready'; c: number }
  | {
      e: 'call'
      c: number
      /** Index into options.apps. */
      a: number
      t: number
      ms: number
      ok: boolean
      err?: string
      tries: Attempt[]
    }
  | { e: 'done'; c: number; calls: number }

const emit = (line: ClientLine): void => void process.stdout.write(`${JSON.stringify(line)}\n`)

/** A fetch that notes every WeChat attempt of the call in progress. */
function recordingFetch(attempts: () => Attempt[]): FetchLike {
  return async (input, init) => {
    const token = new URL(input).searchParams.get('access_token') ?? ''
    try {
      const response = await fetch(input, init)
      let errcode: number | null = null
      try {
        const body = JSON.parse(await response.clone().text()) as { errcode?: unknown }
        errcode = typeof body.errcode === 'number' ? body.errcode : 0
      } catch {
        // not JSON (an HTTP fault): errcode stays null
      }
      attempts().push([tokenId(token), errcode, response.status])
      return response
    } catch (error) {
      attempts().push([tokenId(token), null, 0])
      throw error
    }
  }
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  const fields = error as Error & { errcode?: unknown; code?: unknown; status?: unknown }
  const detail = [fields.errcode, fields.code, fields.status]
    .filter((v) => typeof v === 'number' || typeof v === 'string')
    .map(String)
  return `${error.name}${detail.length ? ` ${detail.join(' ')}` : ''}: ${error.message}`
}

async function run(options: ClientOptions): Promise<void> {
  const random = seededRandom(options.seed)
  let stopping = false
  let calls = 0
  process.once('SIGTERM', () => (stopping = true))
  const loops = options.apps.map(async (app, a) => {
    let attempts: Attempt[] = []
    const tokens = new BrokerTokenProvider({
      baseUrls: options.brokerUrls,
      apiKey: options.apiKey,
      appid: app.appid,
      skewSeconds: options.skewSeconds,
    })
    const client = new MiniProgramClient({
      appid: app.appid,
      tokens,
      baseUrl: options.wechatUrl,
      fetch: recordingFetch(() => attempts),
    })
    const pause = random.fork()
    while (!stopping) {
      attempts = []
      const t = Date.now()
      const started = performance.now()
      let err: string | undefined
      try {
        await client.openApi.getApiQuota(app.tokenApi)
      } catch (error) {
        err = describeError(error)
      }
      const ms = Math.round(performance.now() - started)
      calls++
      emit({
        e: 'call',
        c: options.index,
        a,
        t,
        ms,
        ok: err === undefined,
        ...(err === undefined ? {} : { err }),
        tries: attempts,
      })
      await new Promise((r) =>
        setTimeout(r, pause.int(options.minIntervalMs, options.maxIntervalMs))
      )
    }
  })
  emit({ e: 'ready', c: options.index })
  await Promise.all(loops)
  emit({ e: 'done', c: options.index, calls })
}

const raw = process.env.CHAOS_CLIENT_OPTIONS
if (raw === undefined) {
  process.stderr.write('client-main: CHAOS_CLIENT_OPTIONS is not set (the soak starts this)\n')
  process.exit(2)
}
run(JSON.parse(raw) as ClientOptions).then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`client-main: ${describeError(error)}\n`)
    process.exit(1)
  }
)
