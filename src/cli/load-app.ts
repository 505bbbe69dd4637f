/**
 * Loads the `--app` module: JavaScript with `import()`, TypeScript with tsx (so an application
 * written in TypeScript needs no build), resolved against the current directory. The module gives
 * its createSystem options as a default export (the options, or a function, sync or async, that
 * returns them) or as a named export `options`.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { messageOf } from '../errors.js';
import type { SystemOptions } from '../runtime/options.js';
import { CliError, ExitCode } from './exit-codes.js';

/** The app as the CLI uses it: where it is, and its options. */
export interface LoadedApp {
  /** As given to `--app`, for messages. */
  readonly given: string;
  /** Resolved against the current directory. */
  readonly path: string;
  readonly options: SystemOptions;
}

const TYPESCRIPT = /\.[mc]?tsx?$/;

/**
 * Imports the module at `given` (relative to `cwd`) and finds its createSystem options.
 *
 * @example
 * const { options } = await loadApp('./src/app.ts');
 */
export async function loadApp(given: string, cwd = process.cwd()): Promise<LoadedApp> {
  const path = resolve(cwd, given);
  if (!existsSync(path)) {
    throw appError('APP_NOT_FOUND', `--app ${given}: there is no file ${path}; give the path of your app module`);
  }
  let module: unknown;
  try {
    const url = pathToFileURL(path).href;
    module = TYPESCRIPT.test(path) ? await tsImport(url, import.meta.url) : await import(url);
  } catch (error) {
    throw appError('APP_NOT_LOADED', `--app ${given} could not be loaded: ${messageOf(error)}`);
  }
  return { given, path, options: await optionsOf(module, given) };
}

/** The options a module exports: its default export (or what that function returns), else `options`. */
async function optionsOf(module: unknown, given: string): Promise<SystemOptions> {
  // A CommonJS module's exports arrive as the default export: look inside them once.
  const scopes = [module, field(module, 'default')];
  for (const scope of scopes) {
    for (const name of ['default', 'options']) {
      let value = field(scope, name);
      if (typeof value === 'function') {
        try {
          value = await (value as () => unknown)();
        } catch (error) {
          throw appError('APP_NOT_LOADED', `--app ${given}: its ${name} export threw: ${messageOf(error)}`);
        }
      }
      if (isOptions(value)) return value;
    }
  }
  throw appError(
    'APP_NO_OPTIONS',
    `--app ${given} exports no createSystem options: export default { store, entities } (or a function returning them), or export const options = { store, entities }`,
  );
}

function field(value: unknown, name: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[name] : undefined;
}

function isOptions(value: unknown): value is SystemOptions {
  return typeof value === 'object' && value !== null && 'store' in value;
}

function appError(code: string, message: string): CliError {
  return new CliError(ExitCode.App, code, message);
}
