// The baseline for bench/proxy.ts: the least a Node proxy in front of WeChat does, in its own
// process like the broker, plain JavaScript run by plain Node as the broker's dist/ is. node:http in, an undici Pool (kept-alive connections, the broker's
// gateway size) out to UPSTREAM; it sets access_token to BARE_TOKEN, forwards the body and
// Content-Type, and sends back status, Content-Type and body. No auth, no allow-list, no logs,
// no metrics, no errcode check: what the gateway adds over this is its price.
import { createServer } from 'node:http'
import { Buffer } from 'node:buffer'
import process from 'node:process'
import { URL } from 'node:url'
import { Pool } from 'undici'

const upstream = process.env.UPSTREAM ?? ''
const token = process.env.BARE_TOKEN ?? ''
const pool = new Pool(upstream, { connections: 32 })

const server = createServer((req, res) => {
  const chunks = []
  req.on('data', (chunk) => chunks.push(chunk))
  req.on('end', () => {
    const url = new URL(req.url ?? '/', 'http://proxy')
    url.searchParams.set('access_token', token)
    const contentType = req.headers['content-type']
    pool
      .request({
        method: req.method === 'POST' ? 'POST' : 'GET',
        path: `${url.pathname}${url.search}`,
        headers: contentType === undefined ? {} : { 'content-type': contentType },
        body: req.method === 'POST' ? Buffer.concat(chunks) : null,
      })
      .then(async (answer) => {
        const body = Buffer.from(await answer.body.arrayBuffer())
        res.writeHead(answer.statusCode, {
          'content-type': String(answer.headers['content-type'] ?? 'application/json'),
          'content-length': body.length,
        })
        res.end(body)
      })
      .catch(() => {
        res.writeHead(502).end()
      })
  })
})
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () =>
  process.stdout.write(`listening http://127.0.0.1:${server.address().port}\n`)
)
process.on('SIGTERM', () => server.close(() => process.exit(0)))
