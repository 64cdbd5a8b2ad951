import { defineConfig } from 'vitest/config';

// Service tests run in Node against real HTTP, libp2p, SQLite and PostgreSQL; they do not need the
// SvelteKit plugin, so they get their own config.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    fileParallelism: true,
    maxWorkers: 2
  }
});
