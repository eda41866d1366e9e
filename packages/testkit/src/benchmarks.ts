// Shared by the scripts that publish figures (the benchmarks, the chaos soak): each writes its own
// marked section of a doc, so the hand-written text around it stays.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'

/** Replaces (or appends) the section between `<!-- marker:start -->` and `<!-- marker:end -->`. */
export function writeDocSection(
  docsPath: string,
  marker: string,
  markdown: string,
  title: string
): void {
  const start = `<!-- ${marker}:start -->`
  const end = `<!-- ${marker}:end -->`
  const block = `${start}\n${markdown.trim()}\n${end}`
  const current = existsSync(docsPath) ? readFileSync(docsPath, 'utf8') : `# ${title}\n`
  const pattern = new RegExp(`${start}[\\s\\S]*?${end}`)
  const next = pattern.test(current)
    ? current.replace(pattern, () => block) // a function: `$` in the text stays literal
    : `${current.trimEnd()}\n\n${block}\n`
  writeFileSync(docsPath, next)
}

/** Replaces (or appends) one benchmark's section of docs/benchmarks.md, between markers. */
export function writeBenchmarkSection(docsPath: string, name: string, markdown: string): void {
  writeDocSection(docsPath, `bench:${name}`, markdown, 'Benchmarks')
}

export function table(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]): string => `| ${cells.join(' | ')} |`
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n')
}

export function machine(): string {
  return `Node ${process.version}, ${process.platform}/${process.arch}`
}
