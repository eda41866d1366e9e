import { describe, expect, it } from 'vitest'
import { DecryptError, InvalidInputError } from '../errors.js'
import { buildXml, cdata, parseXml } from './xml.js'

describe('minimal push XML', () => {
  it('parses CDATA, plain text, entities, self-closing and nested children', () => {
    const xml = `<?xml version="1.0"?>
      <xml>
        <ToUserName><![CDATA[gh_1]]></ToUserName>
        <CreateTime>1714112445</CreateTime>
        <Content>a &lt;b&gt; &amp; &#39;c&#39; &#x4e2d;</Content>
        <Empty/>
        <Mixed>x<![CDATA[<y>]]>z</Mixed>
        <Info><Lat>1</Lat></Info>
      </xml>`
    expect(parseXml(xml)).toEqual({
      ToUserName: 'gh_1',
      CreateTime: '1714112445',
      Content: "a <b> & 'c' 中",
      Empty: '',
      Mixed: 'x<y>z',
      Info: '<Lat>1</Lat>',
    })
  })

  it('keeps "</Tag>" inside CDATA as text', () => {
    expect(parseXml('<xml><A><![CDATA[</A> ok]]></A></xml>')).toEqual({ A: '</A> ok' })
  })

  it.each([
    ['a DOCTYPE', '<!DOCTYPE x [<!ENTITY a "b">]><xml><A>&a;</A></xml>'],
    ['no root', 'hello'],
    ['an unclosed child', '<xml><A>1</xml>'],
    ['an unterminated CDATA', '<xml><A><![CDATA[1</A></xml>'],
    ['stray text', '<xml>text<A>1</A></xml>'],
  ])('rejects %s', (_name, xml) => {
    expect(() => parseXml(xml)).toThrow(DecryptError)
  })

  it('builds XML that parses back, splitting "]]>" inside CDATA', () => {
    expect(cdata('a]]>b')).toBe('<![CDATA[a]]]]><![CDATA[>b]]>')
    const fields = { A: 'x]]>y', N: 42 }
    expect(parseXml(buildXml(fields))).toEqual({ A: 'x]]>y', N: '42' })
    expect(() => buildXml({ 'bad name': 'x' })).toThrow(/not a valid XML element name/)
  })

  // Regressions found by crypto.fuzz.test.ts.

  it.each([
    ['a code point past U+10FFFF', '<xml><B x="1">&#1114112;</B></xml>'],
    ['a huge hex reference', '<xml><A>&#xFFFFFFFFFF;</A></xml>'],
    ['NUL', '<xml><A>&#0;</A></xml>'],
    ['a lone surrogate', '<xml><A>&#xD800;</A></xml>'],
  ])('refuses a character reference to %s with DecryptError, not a RangeError', (_name, xml) => {
    const error = (() => {
      try {
        parseXml(xml)
      } catch (e) {
        return e
      }
    })()
    expect(error).toBeInstanceOf(DecryptError)
    expect((error as DecryptError).reason).toBe('invalid_plaintext')
    expect(parseXml('<xml><A>&#x10FFFF;&#9;</A></xml>')).toEqual({ A: '\u{10FFFF}\t' })
  })

  it('parses back a child that shares the root name, and refuses content after the root', () => {
    expect(parseXml(buildXml({ xml: '' }))).toEqual({ xml: '' })
    expect(parseXml('<xml><xml>1</xml><A>2</A></xml>\n')).toEqual({ xml: '1', A: '2' })
    expect(() => parseXml('<xml><A>1</A></xml><B>2</B>')).toThrow(/content after <\/xml>/)
  })

  it.each([
    ['many CDATA sections in one element', `<xml><A>${'<![CDATA[]]>'.repeat(20_000)}</A></xml>`],
    [
      'many children before a CDATA section',
      `<xml>${'<A>1</A>'.repeat(20_000)}<B><![CDATA[x]]></B></xml>`,
    ],
    ['many CDATA sections in the root', `<xml>${'<![CDATA[]]>'.repeat(20_000)}</xml>`],
  ])('takes linear time on %s (it was quadratic: seconds for a few hundred KB)', (_name, xml) => {
    const started = performance.now()
    try {
      parseXml(xml)
    } catch (error) {
      expect(error).toBeInstanceOf(DecryptError)
    }
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('throws InvalidInputError for arguments that are not what it takes', () => {
    expect(() => parseXml({} as string)).toThrow(InvalidInputError)
    expect(() => buildXml(null as unknown as Record<string, string>)).toThrow(InvalidInputError)
    expect(() => buildXml({ 'bad name': 'x' })).toThrow(InvalidInputError)
    expect(() => buildXml({ A: undefined } as unknown as Record<string, string>)).toThrow(
      /^fields\.A: must be a string or a finite number/
    )
  })
})
