import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    projects: ['packages/*/vitest.config.ts', 'deploy/vitest.config.ts'],
    // vitest's default is one worker per core minus one: a single worker on the 2-core machines
    // CI runs on, so every file ran after the other. Most test files spend their time waiting on
    // real timers, sockets and child processes (token lifetimes of seconds, Redis restarts), not
    // on the CPU: four files at a time cut the suite from ~250 s to ~90 s there.
    maxWorkers: 4,
  },
})
