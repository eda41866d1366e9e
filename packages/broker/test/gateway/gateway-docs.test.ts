import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { BUILT_IN_ALLOW_LIST } from '../../src/gateway/allow-list.js'
import { GATEWAY_ERRMSG } from '../../src/gateway/wechat-errors.js'

// The README documents the gateway's allow-list and errcodes; they are kept equal to the code.

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const section = README.slice(
  README.indexOf('## Gateway (WeChat-compatible)'),
  README.indexOf('## Configuration')
)

describe('gateway docs', () => {
  it('the README allow-list table is the built-in allow-list, entry for entry', () => {
    const rows = [...section.matchAll(/^\| `(\/[^`]+)` +\| ([A-Z, ]+?) +\| (.+?) +\|$/gm)].map(
      (m) => ({ pattern: m[1], methods: m[2]?.split(', '), what: m[3] })
    )
    expect(rows).toEqual(
      BUILT_IN_ALLOW_LIST.map((e) => ({
        pattern: e.pattern,
        methods: [...e.methods],
        what: e.what,
      }))
    )
  })

  it('every errcode the gateway answers itself is in the README error table', () => {
    const table = section.slice(section.indexOf('### Errors'))
    for (const errcode of Object.keys(GATEWAY_ERRMSG)) {
      // The last column: "45009", "41002 / 41004", "−1" (a minus sign).
      const shown = errcode === '-1' ? '−1' : `\\b${errcode}\\b`
      expect(table, errcode).toMatch(new RegExp(`\\| (?:[^|]* )?${shown}[^|]* \\|\\s*$`, 'm'))
    }
  })
})
