import { quotaExhausted } from '../engine/readiness.js'
import type { AppStatus, Readiness } from '../engine/types.js'

// A small read-only HTML page for operators, and its sign-in form. It shows state only: never a
// token, a secret or a client key (the data it gets, AppStatus and Readiness, carries none).

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
}
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (ch) => ESCAPES[ch] ?? ch)
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  const h = Math.floor(s / 3600)
  const m = Math.floor((s % 3600) / 60)
  const rest = s % 60
  if (h > 0) return `${h}h ${m}m`
  if (m > 0) return `${m}m ${rest}s`
  return `${rest}s`
}

function ago(at: number, now: number): string {
  return `${formatDuration((now - at) / 1000)} ago`
}

function appCard(s: AppStatus, now: number): string {
  const pct = s.quota.limit > 0 ? Math.min(100, (s.quota.used / s.quota.limit) * 100) : 0
  const barClass = quotaExhausted(s) ? 'full' : s.quota.warn ? 'warn' : 'ok'
  const expiry =
    s.wechatExpiresAt === null ? 'no token' : formatDuration((s.wechatExpiresAt - now) / 1000)
  const lastRefresh = s.lastRefresh
    ? `${ago(s.lastRefresh.at, now)} (${escapeHtml(s.lastRefresh.reason)})`
    : 'never'
  const lastError = s.lastError
    ? `${s.lastError.errcode} ${escapeHtml(s.lastError.errmsg)} (${ago(s.lastError.at, now)})`
    : 'none'
  return `<section class="app" data-appid="${escapeHtml(s.appid)}">
<h2>${escapeHtml(s.appid)} <span class="state ${escapeHtml(s.state)}">${escapeHtml(s.state)}</span></h2>
<dl>
<dt>Token kind</dt><dd class="kind">${escapeHtml(s.kind)}</dd>
<dt>Generation</dt><dd class="generation">${s.generation ?? '-'}</dd>
<dt>Expires in</dt><dd class="expiry">${expiry}</dd>
<dt>Last refresh</dt><dd class="last-refresh">${lastRefresh}</dd>
<dt>Last error</dt><dd class="last-error">${lastError}</dd>
<dt>Quota today</dt><dd class="quota">${s.quota.used} / ${s.quota.limit}
<div class="bar" role="meter" aria-valuemin="0" aria-valuemax="${s.quota.limit}" aria-valuenow="${s.quota.used}"><div class="fill ${barClass}" style="width:${pct.toFixed(1)}%"></div></div></dd>
</dl>
</section>`
}

/** The replica's verdict and what is degraded: the same list /readyz and wxbroker_degraded show. */
function readinessSection(r: Readiness): string {
  const verdict = r.ready
    ? 'Ready: a valid token for every app'
    : 'Not ready: some app cannot be served'
  const items = r.degradations
    .map(
      (d) =>
        `<li class="${d.blocking ? 'blocking' : 'degraded'}" data-reason="${escapeHtml(d.reason)}">${escapeHtml(d.message)}</li>`
    )
    .join('\n')
  return `<section class="readiness ${r.ready ? 'ready' : 'not-ready'}">
<h2>${verdict}</h2>
<p class="store">Store: ${r.storeUp ? 'reachable' : 'unreachable'}</p>
${items ? `<ul class="degradations">\n${items}\n</ul>` : '<p class="degradations">Nothing degraded.</p>'}
</section>`
}

const STYLE = `body{font:14px/1.4 system-ui,sans-serif;margin:2rem;color:#222;background:#fafafa}
h1{font-size:1.4rem}.app{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1rem;margin:0 0 1rem;max-width:40rem}
h2{font-size:1.1rem;margin:0 0 .5rem}dl{display:grid;grid-template-columns:9rem 1fr;gap:.25rem .5rem;margin:0}dt{color:#666}dd{margin:0}
.state{font-size:.8rem;padding:.1rem .4rem;border-radius:4px;background:#eee}.state.ok{background:#d4f4dd}.state.failing,.state.quota_exhausted{background:#fbd5d5}
.readiness{border-radius:6px;padding:.75rem 1rem;margin:0 0 1rem;max-width:40rem;border:1px solid #ddd}.readiness.ready{background:#eef9f1}.readiness.not-ready{background:#fdecec}
.readiness p,.readiness ul{margin:.25rem 0 0}li.blocking{color:#a11;font-weight:600}li.degraded{color:#8a5a00}
.bar{height:.6rem;background:#eee;border-radius:3px;margin-top:.25rem;overflow:hidden}.fill{height:100%}.fill.ok{background:#3a9d5d}.fill.warn{background:#e0a100}.fill.full{background:#c33}
.login,.error{box-sizing:border-box;max-width:26rem}.login{background:#fff;border:1px solid #ddd;border-radius:6px;padding:1rem}.login label{display:block;color:#666;margin:0 0 .25rem}
.login input{box-sizing:border-box;width:100%;font:inherit;padding:.3rem;margin:0 0 .75rem}button{font:inherit}
.error{background:#fbd5d5;border-radius:4px;padding:.4rem .6rem}.session{color:#666}.session button{border:0;background:none;color:#06c;padding:0;cursor:pointer;text-decoration:underline}`

/** The document around every page: one head, one style. */
function page(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
${head}<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
${STYLE}
</style>
</head>
<body>
${body}
</body>
</html>
`
}

/** `signedInAs`: the client whose sign-in cookie opened the page; it gets a sign-out button. */
export function renderStatusPage(
  statuses: readonly AppStatus[],
  readiness: Readiness,
  now: number,
  signedInAs?: string
): string {
  const session =
    signedInAs === undefined
      ? ''
      : `<form class="session" method="post" action="/status/logout">Signed in as ${escapeHtml(signedInAs)}. <button type="submit">Sign out</button></form>\n`
  return page(
    'wxbroker status',
    `<h1>wxbroker status</h1>
${session}<p class="generated">Generated ${escapeHtml(new Date(now).toISOString())}; refreshes every 15 s.</p>
${readinessSection(readiness)}
${statuses.map((s) => appCard(s, now)).join('\n')}`,
    '<meta http-equiv="refresh" content="15">\n'
  )
}

/** The sign-in form for statusPage.requireAdmin: an admin client key, posted to /status/login. */
export function renderLoginPage(message?: string): string {
  const error =
    message === undefined ? '' : `<p class="error" role="alert">${escapeHtml(message)}</p>\n`
  return page(
    'wxbroker status: sign in',
    `<h1>wxbroker status</h1>
${error}<form class="login" method="post" action="/status/login">
<label for="key">Admin client key</label>
<input id="key" name="key" type="password" autocomplete="current-password" required autofocus>
<button type="submit">Sign in</button>
</form>`
  )
}
