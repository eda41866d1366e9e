import { spawn, execSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort, startServerProcess } from '@wxbroker/testkit'
import { startSimulator } from '@wxbroker/wechat-sim'
const APPID = 'wx00000000000be0c2', SECRET = 'bench-proxy-secret', KEY = 'wxb_bench-proxy-key-000000000000000000000000000'
const sim = await startSimulator({ apps: [{ appid: APPID, secret: SECRET }] })
await sim.admin.registerUser({ appid: APPID, openid: 'o-bench-proxy' })
const dir = mkdtempSync(join(tmpdir(), 'p-'))
const gp = await freePort()
const config = join(dir, 'c.yaml')
writeFileSync(config, ['listen: { host: 127.0.0.1, port: 0 }', `gateway: { listen: { host: 127.0.0.1, port: ${gp} } }`, `wechat: { baseUrl: "${sim.url}" }`, `apps: [{ appid: ${APPID}, secret: ${SECRET} }]`, 'clients:', `  - { name: bench, keySha256: ${createHash('sha256').update(KEY).digest('hex')}, apps: [${APPID}], scopes: [gateway] }`].join('\n'))
const gw = `http://127.0.0.1:${gp}`
const tokenUrl = `${gw}/cgi-bin/token?grant_type=client_credential&appid=${APPID}&secret=${KEY}`
const s = await startServerProcess(['dist/cli.js', 'serve', '--config', config], async () => (await fetch(tokenUrl)).ok)
const { access_token } = (await (await fetch(tokenUrl)).json()) as { access_token: string }
const b = await startServerProcess(['bench/bare-proxy.mjs'], async (u) => (await fetch(u)).status > 0, { UPSTREAM: sim.url, BARE_TOKEN: access_token })
writeFileSync('/tmp/prof/post.lua', `wrk.method="POST"\nwrk.body='{"content":"hello world","version":2,"scene":1,"openid":"o-bench-proxy"}'\nwrk.headers["Content-Type"]="application/json"\n`)
for (const [name, url, pid] of [['gw', `${gw}/wxa/msg_sec_check?access_token=${access_token}`, s.proc.child.pid], ['bare', `${b.url}/wxa/msg_sec_check?access_token=x`, b.proc.child.pid]] as const) {
  const st = spawn('strace', ['-c', '-f', '-p', String(pid), '-o', `/tmp/prof/strace-${name}.txt`], { stdio: 'inherit' })
  await new Promise((r) => setTimeout(r, 500))
  await new Promise((r) => { const c = spawn('wrk', ['-t1', '-c16', '-d4s', '-s', '/tmp/prof/post.lua', url], { stdio: ['ignore', 'pipe', 'inherit'] }); let o = ''; c.stdout.on('data', (d) => (o += d)); c.on('exit', () => { console.log(name, /Requests\/sec:\s+(\S+)/.exec(o)?.[1], /(\d+) requests in/.exec(o)?.[1]); r(null) }) })
  st.kill('SIGINT'); await new Promise((r) => st.on('exit', r))
}
await s.proc.stop(); await b.proc.stop(); await sim.close()
