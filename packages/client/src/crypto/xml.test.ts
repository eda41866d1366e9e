import { describe, expect, it } from 'vitest'
import { DecryptError } from '../errors.js'
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
})
