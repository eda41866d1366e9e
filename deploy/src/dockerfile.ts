import { readFileSync } from 'node:fs'

// Reads a Dockerfile's instructions, so tests run the image's own build commands instead of a copy
// that could drift from it.

export interface Instruction {
  /** The stage name (`FROM image AS name`), or the image when the stage has none. */
  stage: string
  keyword: string
  args: string
}

/** Instructions in order; continuation lines joined, comments dropped. */
export function readDockerfile(path: string): Instruction[] {
  const instructions: Instruction[] = []
  let stage = ''
  let pending = ''
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.trim()
    if (line.startsWith('#') || (line === '' && pending === '')) continue
    pending += (pending && ' ') + line.replace(/\\$/, '').trim()
    if (line.endsWith('\\')) continue
    const m = /^(\w+)\s+([\s\S]*)$/.exec(pending)
    pending = ''
    if (!m?.[1] || m[2] === undefined) continue
    const keyword = m[1].toUpperCase()
    if (keyword === 'FROM') stage = /\bAS\s+(\S+)/i.exec(m[2])?.[1] ?? m[2]
    instructions.push({ stage, keyword, args: m[2] })
  }
  return instructions
}

/** The shell-form RUN commands of one stage. */
export function runCommands(path: string, stage: string): string[] {
  return readDockerfile(path)
    .filter((i) => i.stage === stage && i.keyword === 'RUN')
    .map((i) => i.args)
}
