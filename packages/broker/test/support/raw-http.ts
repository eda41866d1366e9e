import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'

// A request sent as given: no URL parsing or normalisation as fetch does (dot segments, a Host
// header of its own), and a body in chunks, with Content-Length or chunked.

export interface RawRequest {
  method: string
  /** The request target, verbatim. */
  path: string
  /** Sent as given; a `host` here replaces the one node:http would add. */
  headers: Record<string, string>
  /** Written chunk by chunk; Content-Length is set unless `chunked`. */
  body?: { chunks: Buffer[]; chunked: boolean } | null | undefined
}

export interface RawResponse {
  status: number
  headers: IncomingHttpHeaders
  /** Every header line as received ("Name: value"), for searching. */
  rawHeaders: string
  body: Buffer
}

export function rawRequest(baseUrl: string, r: RawRequest, timeoutMs = 5000): Promise<RawResponse> {
  const base = new URL(baseUrl)
  const headers = { ...r.headers }
  if (r.body?.chunked) {
    // Said outright: node:http sends a GET's or HEAD's body unframed otherwise.
    headers['transfer-encoding'] = 'chunked'
  } else if (r.body) {
    headers['content-length'] = String(r.body.chunks.reduce((n, c) => n + c.length, 0))
  }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: base.hostname,
        port: base.port,
        method: r.method,
        path: r.path,
        headers,
        setHost: !('host' in headers),
        agent: false,
        timeout: timeoutMs,
      },
      (res) => {
        const parts: Buffer[] = []
        res.on('data', (d: Buffer) => parts.push(d))
        res.on('error', reject)
        res.on('end', () => {
          const raw: string[] = []
          for (let i = 0; i < res.rawHeaders.length; i += 2) {
            raw.push(`${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}`)
          }
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: raw.join('\n'),
            body: Buffer.concat(parts),
          })
        })
      }
    )
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)))
    req.on('error', reject)
    for (const chunk of r.body?.chunks ?? []) req.write(chunk)
    req.end()
  })
}
