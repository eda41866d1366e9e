import { describe, expect, it } from 'vitest'
import { scrubSecrets } from './logger.js'

// The one redaction of query strings (design §10: access_token, secret, appsecret, js_code and
// code in every query string that might be logged).

describe('scrubSecrets', () => {
  it('redacts every credential parameter of a WeChat or gateway URL, keeping the rest', () => {
    expect(
      scrubSecrets(
        'GET /sns/jscode2session?appid=wx0123456789abcdef&secret=wxb_abc-DEF_123&js_code=081xYz&grant_type=authorization_code&access_token=79_T0k3n-x'
      )
    ).toBe(
      'GET /sns/jscode2session?appid=wx0123456789abcdef&secret=[redacted]&js_code=[redacted]&grant_type=authorization_code&access_token=[redacted]'
    )
    expect(
      scrubSecrets('/cgi-bin/clear_quota/v2?appid=wx0123456789abcdef&appsecret=0123456789abcdef')
    ).toBe('/cgi-bin/clear_quota/v2?appid=wx0123456789abcdef&appsecret=[redacted]')
    expect(scrubSecrets('?code=phone-code-1&openid=o1')).toBe('?code=[redacted]&openid=o1')
    expect(scrubSecrets('session_key=abc== key=wxb_k1')).toBe(
      'session_key=[redacted] key=[redacted]'
    )
  })

  it('catches names spelled with an encoded underscore, in any case, inside messages', () => {
    expect(scrubSecrets('url: http://x/a?ACCESS%5FTOKEN=abc&JS%5fcode=c1 (status 502)')).toBe(
      'url: http://x/a?ACCESS%5FTOKEN=[redacted]&JS%5fcode=[redacted] (status 502)'
    )
    expect(scrubSecrets('"https://gw/cgi-bin/token?secret=wxb_x"')).toBe(
      '"https://gw/cgi-bin/token?secret=[redacted]"'
    )
  })

  it('leaves other words alone: errcode, qrcode, appid, grant_type', () => {
    const text = 'errcode=40001&qrcode=1&appid=wx1&grant_type=client_credential&x_code=2'
    expect(scrubSecrets(text)).toBe(text)
  })
})
