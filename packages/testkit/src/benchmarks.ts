// Shared by the benchmark scripts: each writes its own marked section of docs/benchmarks.md.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

/** Replaces (or appends) one benchmark's section of docs/benchmarks.md, between markers. */
export function writeBenchmarkSection(docsPath: string, name: string, markdown: string): void {
  const start = `<!-- bench:${name}:start -->`
  const end = `<!-- bench:${name}:end -->`
  const block = `${start}\n${markdown.trim()}\n${end}`
  const current = existsSync(docsPath) ? readFileSync(docsPath, 'utf8') : '# Benchmarks\n'
  const pattern = new RegExp(`${start}[\\s\\S]*?${end}`)
  const next = pattern.test(current)
    ? current.replace(pattern, block)
    : `${current.trimEnd()}\n\n${block}\n`
  writeFileSync(docsPath, next)
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export function machine(): string {
  return `Node ${process.version}, ${process.platform}/${process.arch}`
}
