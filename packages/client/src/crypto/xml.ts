import { DecryptError, InvalidInputError } from '../errors.js'

/**
 * The flat XML WeChat pushes (`<xml><Tag><![CDATA[..]]></Tag><N>1</N></xml>`): no dependency,
 * no DTDs or custom entities (so no entity-expansion attacks). A child that itself holds
 * elements is returned as its raw inner XML. Every scan moves forward only, so the time is
 * linear in the input however it is shaped (the body is parsed before its signature is checked).
 */

const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }

/** XML 1.0 `Char`: what a character reference may name. */
function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  )
}

function decodeText(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref: string) => {
    if (!ref.startsWith('#')) return ENTITIES[ref] ?? whole
    const hex = ref[1] === 'x' || ref[1] === 'X'
    const code = parseInt(ref.slice(hex ? 2 : 1), hex ? 16 : 10)
    if (!isXmlChar(code)) throw malformed('a character reference names no XML character')
    return String.fromCodePoint(code)
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
    const lt = xml.indexOf('<', i)
    if (lt === -1) throw malformed(`<${name}> is not closed`)
    if (xml.startsWith(close, lt)) return lt
    if (xml.startsWith('<![CDATA[', lt)) {
      const end = xml.indexOf(']]>', lt + 9)
      if (end === -1) throw malformed('unterminated CDATA')
      i = end + 3
    } else {
      i = lt + 1
    }
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
    const end = inner.indexOf(']]>', cdata + 9)
    if (end === -1) throw malformed('unterminated CDATA')
    out += inner.slice(cdata + 9, end)
    i = end + 3
  }
  return out
}

/** Parses the root element's children into a record of strings. */
export function parseXml(xml: string): Record<string, string> {
  if (typeof xml !== 'string') {
    throw new InvalidInputError('xml', 'must be the XML text as a string')
  }
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw malformed('DOCTYPE and ENTITY are not accepted')
  const body = xml.replace(/^\uFEFF?\s*(<\?xml[^>]*\?>)?\s*/, '')
  const root = /^<([A-Za-z_][\w.-]*)(\s[^>]*)?>/.exec(body)
  if (root === null) throw malformed('no root element')
  const rootName = root[1]!
  const rootClose = `</${rootName}>`
  const fields: Record<string, string> = Object.create(null) as Record<string, string>
  const open = /<([A-Za-z_][\w.-]*)(\s[^>]*?)?(\/?)>/y
  let i = root[0].length
  for (;;) {
    while (i < body.length && /\s/.test(body[i]!)) i++
    if (i >= body.length) throw malformed(`<${rootName}> is not closed`)
    // The root ends at its own closing tag here, not at the first one in the text: a child may
    // share its name (<xml><xml>..</xml></xml>).
    if (body.startsWith(rootClose, i)) break
    open.lastIndex = i
    const tag = open.exec(body)
    if (tag === null) throw malformed(`unexpected content in <${rootName}>`)
    const name = tag[1]!
    if (tag[3] === '/') {
      fields[name] = ''
      i = open.lastIndex
      continue
    }
    const close = closingTag(body, name, open.lastIndex)
    fields[name] = elementValue(body.slice(open.lastIndex, close))
    i = close + name.length + 3
  }
  if (body.slice(i + rootClose.length).trim() !== '') {
    throw malformed(`content after </${rootName}>`)
  }
  return fields
}

/** Wraps text in CDATA, splitting any `]]>` so the section cannot be closed early. */
export function cdata(text: string): string {
  return `<![CDATA[${text.replaceAll(']]>', ']]]]><![CDATA[>')}]]>`
}

/** Builds `<xml>…</xml>`: numbers bare, strings in CDATA. Names must be plain XML names. */
export function buildXml(fields: Record<string, string | number>): string {
  if (typeof fields !== 'object' || fields === null) {
    throw new InvalidInputError('fields', 'must be an object of element names to values')
  }
  let out = '<xml>'
  for (const [name, value] of Object.entries(fields)) {
    if (!/^[A-Za-z_][\w.-]*$/.test(name)) {
      throw new InvalidInputError(
        'fields',
        `"${name}" is not a valid XML element name (a letter or _, then letters, digits, _ . -)`
      )
    }
    if (typeof value !== 'string' && !(typeof value === 'number' && Number.isFinite(value))) {
      throw new InvalidInputError(`fields.${name}`, 'must be a string or a finite number')
    }
    out += `<${name}>${typeof value === 'number' ? String(value) : cdata(value)}</${name}>`
  }
  return `${out}</xml>`
}
