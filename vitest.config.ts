import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (path: string) => fileURLToPath(new URL(`./src/${path}`, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests import the package as users do; these resolve to the sources, not to dist/.
    alias: [
      { find: /^pachyderm$/, replacement: src('index.ts') },
      { find: /^pachyderm\/sqlite$/, replacement: src('store/sqlite/index.ts') },
      { find: /^pachyderm\/postgres$/, replacement: src('store/postgres/index.ts') },
      { find: /^pachyderm\/testing$/, replacement: src('testing/index.ts') },
      { find: /^pachyderm\/store$/, replacement: src('store/index.ts') },
      { find: /^pachyderm\/dashboard$/, replacement: src('dashboard/index.ts') },
    ],
  },
  test: {
    // Tests import describe, it and expect from 'vitest'; globals are on for code that looks for
    // a runner there, as pachyderm/store's contract suite does when it is given none.
    globals: true,
    globalSetup: ['test/support/global-setup.ts'],
    exclude: ['**/node_modules/**', 'dist/**', 'bench/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
