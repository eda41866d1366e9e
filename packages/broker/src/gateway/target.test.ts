import { describe, expect, it } from 'vitest'
import { AllowList, BUILT_IN_ALLOW_LIST, neverForwarded, patternMatches } from './allow-list.js'
import { parseTarget, rewriteQuery } from './target.js'

describe('parseTarget', () => {
  it('splits a plain origin-form target into path and raw query', () => {
    expect(parseTarget('/wxa/msg_sec_check?access_token=a%2Bb&x=1')).toEqual({
      path: '/wxa/msg_sec_check',
      query: 'access_token=a%2Bb&x=1',
    })
    expect(parseTarget('/datacube/getweanalysisappiddailysummarytrend')).toEqual({
      path: '/datacube/getweanalysisappiddailysummarytrend',
      query: '',
    })
  })

  it('refuses every other spelling of a path', () => {
    for (const url of [
      undefined,
      '*',
      'evil.example:443',
      'http://evil.example/wxa/x',
      '//evil.example/wxa/x',
      '/',
      '/wxa/',
      '/wxa//x',
      '/wxa/./x',
      '/wxa/../x',
      '/wxa/.../x',
      '/wxa/%2e%2e/x',
      '/wxa%2fx',
      '/wxa\\x',
      '/wxa/x@evil',
      '/wxa/x#y',
      '/wxa/x y',
    ]) {
      expect(parseTarget(url), String(url)).toMatchObject({ errcode: 48001 })
    }
    // A query with a fragment or bytes outside printable ASCII.
    expect(parseTarget('/wxa/x?a=1#f')).toMatchObject({ errcode: 47001 })
    expect(parseTarget('/wxa/x?a=\u00e9')).toMatchObject({ errcode: 47001 })
  })
})

describe('rewriteQuery', () => {
  it('replaces every spelling of a parameter by exactly one, encoded, keeping the rest byte for byte', () => {
    expect(
      rewriteQuery('access_token=a&foo=%41+b&access%5Ftoken=b&access_token&bar=&=x&&baz', [
        ['access_token', 'T/+='],
      ])
    ).toBe('foo=%41+b&bar=&=x&baz&access_token=T%2F%2B%3D')
    expect(rewriteQuery('', [['access_token', 'T']])).toBe('access_token=T')
  })

  it('drops names too (the login: no access_token; appid and secret set once)', () => {
    expect(
      rewriteQuery(
        'appid=wx1&secret=wxb_key&js_code=c&grant_type=authorization_code&access_token=t',
        [
          ['appid', 'wx1'],
          ['secret', 's3cr3t'],
        ],
        ['access_token']
      )
    ).toBe('js_code=c&grant_type=authorization_code&appid=wx1&secret=s3cr3t')
    // A malformed escape stays a name of its own.
    expect(rewriteQuery('access_token%=x&access_token=y', [['access_token', 'T']])).toBe(
      'access_token%=x&access_token=T'
    )
  })
})

describe('allow-list', () => {
  const list = new AllowList(['/cgi-bin/media/*', '/wxa/getwxadevinfo'])

  it('matches exact entries and the most specific prefix; names the endpoint by its entry', () => {
    expect(list.match('/wxa/msg_sec_check')?.pattern).toBe('/wxa/msg_sec_check')
    expect(list.match('/datacube/getweanalysisappidvisitpage')?.pattern).toBe('/datacube/*')
    expect(list.match('/datacube/')).toBeUndefined()
    expect(list.match('/cgi-bin/media/get')).toMatchObject({
      pattern: '/cgi-bin/media/*',
      methods: ['GET', 'POST'],
    })
    expect(list.match('/wxa/getwxadevinfo')?.pattern).toBe('/wxa/getwxadevinfo')
    expect(list.match('/wxa/msg_sec_check2')).toBeUndefined()
    expect(list.match('/WXA/msg_sec_check')).toBeUndefined()
  })

  it('never forwards the token endpoints, quota resets or component APIs, whatever is allowed', () => {
    const wide = new AllowList(['/cgi-bin/*', '/sns/*'])
    for (const path of [
      '/cgi-bin/token',
      '/cgi-bin/stable_token',
      '/cgi-bin/clear_quota',
      '/cgi-bin/clear_quota/v2',
      '/CGI-BIN/Clear_Quota',
      '/cgi-bin/openapi/quota/clear',
      '/cgi-bin/component/api_component_token',
      '/sns/component/jscode2session',
    ]) {
      expect(neverForwarded(path), path).toBe(true)
      expect(wide.match(path), path).toBeUndefined()
    }
    expect(wide.match('/cgi-bin/user/info')?.pattern).toBe('/cgi-bin/*')
    expect(neverForwarded('/cgi-bin/tokenizer')).toBe(false)
  })

  it('every built-in entry is a valid pattern that is not never-forwarded', () => {
    for (const e of BUILT_IN_ALLOW_LIST) {
      expect(neverForwarded(e.pattern.replace(/\/\*$/, '')), e.pattern).toBe(false)
      expect(e.methods.length).toBeGreaterThan(0)
    }
    expect(patternMatches('/wxa/*', '/wxa/getwxacode')).toBe(true)
    expect(patternMatches('/wxa/*', '/wxaapi/newtmpl/x')).toBe(false)
    expect(patternMatches('/wxa/getwxacode', '/wxa/getwxacodeunlimit')).toBe(false)
  })
})
