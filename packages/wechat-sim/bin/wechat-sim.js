#!/usr/bin/env node
// Runs from source in the workspace (through tsx), or from dist/ in a production bundle.
import { existsSync } from 'node:fs'
import { URL } from 'node:url'
const source = new URL('../src/cli.ts', import.meta.url)
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api')
  register()
  await import(source.href)
} else {
  await import(new URL('../dist/cli.js', import.meta.url).href)
}
