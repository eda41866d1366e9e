import { fileURLToPath } from 'node:url'

/** The deploy/ directory. */
export const deployDir = fileURLToPath(new URL('..', import.meta.url))
/** The repository root. */
export const repoRoot = fileURLToPath(new URL('../..', import.meta.url))

export const deployPath = (...parts: string[]): string =>
  [deployDir.replace(/\/$/, ''), ...parts].join('/')
export const repoPath = (...parts: string[]): string =>
  [repoRoot.replace(/\/$/, ''), ...parts].join('/')
