import { describe, expect, it } from 'vitest'
import type { AppStatus, Readiness } from '../../src/engine/types.js'
import { escapeHtml, formatDuration, renderStatusPage } from '../../src/http/status-page.js'

const NOW = Date.parse('2026-11-23T10:00:00Z')
const status = (over: Partial<AppStatus> = {}): AppStatus => ({
  appid: 'wx00000000000000a1',
  kind: 'stable',
  state: 'ok',
  generation: 7,
  obtainedAt: NOW - 600_000,
  expiresIn: 5700,
  wechatExpiresAt: NOW + 6_600_000,
  refreshLeadSeconds: 600,
  lastRefresh: { at: NOW - 600_000, reason: 'scheduled' },
  lastError: null,
  nextAttemptAt: null,
  quota: {
    api: '/cgi-bin/stable_token',
    used: 1700,
    limit: 2000,
    warnRatio: 0.8,
    warn: true,
    exhausted: null,
    scheduledReserve: 200,
    reports: { used: 0, limit: 100, clientLimit: 20 },
    forceRefresh: { used: 0, limit: 20 },
    wechat: null,
  },
  secret: 'ok',
  lastForeignRefresh: null,
  ...over,
})

const READY: Readiness = { ready: true, storeUp: true, reasons: [], degradations: [] }

describe('status page', () => {
  it('shows kind, generation, time to expiry, last refresh, last error and a quota bar', () => {
    const html = renderStatusPage(
      [
        status(),
        status({
          appid: 'wx00000000000000a2',
          kind: 'classic',
          state: 'failing',
          lastError: { errcode: 40125, errmsg: 'invalid appsecret <b>', at: NOW - 5000 },
        }),
      ],
      READY,
      NOW
    )
    expect(html).toContain('<dd class="kind">stable</dd>')
    expect(html).toContain('<dd class="generation">7</dd>')
    expect(html).toContain('<dd class="expiry">1h 50m</dd>')
    expect(html).toContain('<dd class="last-refresh">10m 0s ago (scheduled)</dd>')
    expect(html).toContain('aria-valuenow="1700"')
    expect(html).toContain('class="fill warn" style="width:85.0%"')
    expect(html).toContain('40125 invalid appsecret &lt;b&gt; (5s ago)')
    expect(html).not.toContain('<b>')
  })

  it('says whether the replica is ready and lists what is degraded, the store included', () => {
    expect(renderStatusPage([status()], READY, NOW)).toContain(
      '<h2>Ready: a valid token for every app</h2>\n<p class="store">Store: reachable</p>\n<p class="degradations">Nothing degraded.</p>'
    )
    const html = renderStatusPage(
      [status({ expiresIn: null })],
      {
        ready: false,
        storeUp: false,
        reasons: ['wx00000000000000a1: no valid token'],
        degradations: [
          { reason: 'store_unreachable', message: 'store unreachable', blocking: false },
          {
            reason: 'no_token:wx00000000000000a1',
            message: 'wx00000000000000a1: no valid token <now>',
            blocking: true,
          },
        ],
      },
      NOW
    )
    expect(html).toContain('<section class="readiness not-ready">')
    expect(html).toContain('<p class="store">Store: unreachable</p>')
    expect(html).toContain(
      '<li class="degraded" data-reason="store_unreachable">store unreachable</li>'
    )
    expect(html).toContain(
      '<li class="blocking" data-reason="no_token:wx00000000000000a1">wx00000000000000a1: no valid token &lt;now&gt;</li>'
    )
  })

  it('escapes HTML and formats durations', () => {
    expect(escapeHtml(`<a href="x">'&`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;')
    expect(formatDuration(59)).toBe('59s')
    expect(formatDuration(61)).toBe('1m 1s')
    expect(formatDuration(7200)).toBe('2h 0m')
    expect(formatDuration(-5)).toBe('0s')
  })
})
