import { defineConfig } from 'tsup'

// Dual ESM + CJS with declarations for both; runs on Node 20 (tsup 8).
export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  clean: true,
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  outDir: 'dist',
  tsconfig: 'tsconfig.build.json',
})
