import { createServer, request, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'

// A recording hop between the broker and the simulator, over real HTTP: it keeps what the broker
// actually sent upstream (target, headers, body), which the simulator's call log does not show,
// and passes everything on to the simulator unchanged. It can also hold an answer back (a slow
// WeChat) or send an answer's head and first bytes and hold the rest (to see streaming).

export interface Recorded {
  method: string
  /** The request target exactly as received. */
  url: string
  path: string
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface Recorder {
  url: string
  /** The simulator's origin; set before the broker starts. */
  target: string
  requests: Recorded[]
  /** Paths whose answer starts only after this many ms. */
  delay: Map<string, number>
  /** Paths whose answer's head and first half go out at once, the rest this many ms later. */
  holdRest: Map<string, number>
  /** Requests whose sender closed the connection before the answer was sent. */
  abandoned: Recorded[]
  /** Requests to `path` since index `from` (default: all). */
  to(path: string, from?: number): Recorded[]
  close(): Promise<void>
}

export async function startRecorder(): Promise<Recorder> {
  const requests: Recorded[] = []
  const abandoned: Recorded[] = []
  const delay = new Map<string, number>()
  const holdRest = new Map<string, number>()
  const recorder: Recorder = {
    url: '',
    target: '',
    requests,
    abandoned,
    delay,
    holdRest,
    to: (path, from = 0) => requests.slice(from).filter((r) => r.path === path),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const url = req.url ?? ''
      const path = url.split('?')[0] ?? ''
      const body = Buffer.concat(chunks)
      const recorded = { method: req.method ?? '', url, path, headers: req.headers, body }
      requests.push(recorded)
      res.once('close', () => {
        if (!res.writableFinished) abandoned.push(recorded)
      })
      const forward = (): void => {
        const target = new URL(recorder.target)
        const headers = { ...req.headers, host: target.host }
        const up = request(
          { host: target.hostname, port: target.port, method: req.method, path: url, headers },
          (upRes) => {
            const parts: Buffer[] = []
            upRes.on('data', (c: Buffer) => parts.push(c))
            upRes.on('end', () => {
              const answer = Buffer.concat(parts)
              const hold = holdRest.get(path)
              res.writeHead(upRes.statusCode ?? 502, upRes.headers)
              if (hold === undefined) {
                res.end(answer)
                return
              }
              const half = Math.floor(answer.length / 2)
              res.write(answer.subarray(0, half))
              setTimeout(() => res.end(answer.subarray(half)), hold)
            })
          }
        )
        up.on('error', () => res.destroy())
        up.end(body)
      }
      const wait = delay.get(path)
      if (wait === undefined) forward()
      else setTimeout(forward, wait)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  recorder.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return recorder
}
