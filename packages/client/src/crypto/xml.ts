import { DecryptError } from '../errors.js'

/**
 * The flat XML WeChat pushes (`<xml><Tag><![CDATA[..]]></Tag><N>1</N></xml>`): no dependency,
 * no DTDs or custom entities (so no entity-expansion attacks). A child that itself holds
 * elements is returned as its raw inner XML.
 */

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

function decodeText(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (ref.startsWith('#x') || ref.startsWith('#X'))
      return String.fromCodePoint(parseInt(ref.slice(2), 16))
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10))
    return ENTITIES[ref] ?? whole
  })
}

function malformed(detail: string): DecryptError {
  return new DecryptError('invalid_plaintext', `malformed XML: ${detail}`)
}

/** Index of `</name>` at or after `from`, skipping CDATA sections (which may contain anything). */
function closingTag(xml: string, name: string, from: number): number {
  const close = `</${name}>`
  let i = from
  for (;;) {
    const cdata = xml.indexOf('<![CDATA[', i)
    const end = xml.indexOf(close, i)
    if (end === -1) throw malformed(`<${name}> is not closed`)
    if (cdata === -1 || end < cdata) return end
    const cdataEnd = xml.indexOf(']]>', cdata)
    if (cdataEnd === -1) throw malformed('unterminated CDATA')
    i = cdataEnd + 3
  }
}

function elementValue(inner: string): string {
  let out = ''
  let i = 0
  while (i < inner.length) {
    const cdata = inner.indexOf('<![CDATA[', i)
    const text = inner.slice(i, cdata === -1 ? inner.length : cdata)
    if (text.includes('<')) return inner // nested elements: hand back the raw XML
    out += decodeText(text)
    if (cdata === -1) break
    const end = inner.indexOf(']]>', cdata)
    if (end === -1) throw malformed('unterminated CDATA')
    out += inner.slice(cdata + 9, end)
    i = end + 3
  }
  return out
}

/** Parses the root element's children into a record of strings. */
export function parseXml(xml: string): Record<string, string> {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw malformed('DOCTYPE and ENTITY are not accepted')
  const body = xml.replace(/^\uFEFF?\s*(<\?xml[^>]*\?>)?\s*/, '')
  const root = /^<([A-Za-z_][\w.-]*)(\s[^>]*)?>/.exec(body)
  if (root === null) throw malformed('no root element')
  const rootName = root[1]!
  const end = closingTag(body, rootName, root[0].length)
  const inner = body.slice(root[0].length, end)
  const fields: Record<string, string> = Object.create(null) as Record<string, string>
  const open = /<([A-Za-z_][\w.-]*)(\s[^>]*?)?(\/?)>/y
  let i = 0
  for (;;) {
    while (i < inner.length && /\s/.test(inner[i]!)) i++
    if (i >= inner.length) break
    open.lastIndex = i
    const tag = open.exec(inner)
    if (tag === null) throw malformed(`unexpected content in <${rootName}>`)
    const name = tag[1]!
    if (tag[3] === '/') {
      fields[name] = ''
      i = open.lastIndex
      continue
    }
    const close = closingTag(inner, name, open.lastIndex)
    fields[name] = elementValue(inner.slice(open.lastIndex, close))
    i = close + name.length + 3
  }
  return fields
}

/** Wraps text in CDATA, splitting any `]]>` so the section cannot be closed early. */
export function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`
}

/** Builds `<xml>…</xml>`: numbers bare, strings in CDATA. Names must be plain XML names. */
export function buildXml(fields: Record<string, string | number>): string {
  let out = '<xml>'
  for (const [name, value] of Object.entries(fields)) {
    if (!/^[A-Za-z_][\w.-]*$/.test(name)) {
      throw new DecryptError('invalid_plaintext', `"${name}" is not a valid XML element name`)
    }
    out += `<${name}>${typeof value === 'number' ? String(value) : cdata(value)}</${name}>`
  }
  return `${out}</xml>`
}
