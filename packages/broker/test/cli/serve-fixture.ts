import { createHash } from 'node:crypto'

// One app and one client for the tests that run `wxbroker serve` as a process.

export const APPID = 'wx0000000000000c11'
export const SECRET = 'serve-test-secret-8e7d'
export const KEY = 'serve-test-client-key-00000000'
export const KEY_SHA = createHash('sha256').update(KEY).digest('hex')
/** The config reads the app secret from here. */
export const SECRET_ENV = { APP_SECRET: SECRET }
export const auth = { authorization: `Bearer ${KEY}` }

/** A wxbroker.yaml on a free port against the simulator; `extra` adds top-level settings. */
export const serveConfig = (simUrl: string, extra = ''): string => `
listen: { host: 127.0.0.1, port: 0 }
${extra}
wechat: { baseUrl: ${simUrl}, timeoutMs: 3000 }
apps:
  - appid: ${APPID}
    secret: \${env:APP_SECRET}
clients:
  - name: svc
    keySha256: ${KEY_SHA}
    apps: ["*"]
    scopes: [token:read, login]
`
