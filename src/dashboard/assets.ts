/**
 * The dashboard's front end: static files shipped in the package next to this module
 * (`assets/`, copied to `dist/dashboard/assets` by the build). Only the files named here are
 * served, read once, with their content types; no path from a request reaches the file system.
 */
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';

const folder = new URL('./assets/', import.meta.url);

const types: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'login.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
};

/** The files a request may name under `assets/`. */
export const publicAssets: readonly string[] = ['app.js', 'app.css', 'icon.svg'];

const cache = new Map<string, Promise<Buffer>>();

function load(name: string): Promise<Buffer> {
  let file = cache.get(name);
  if (!file) {
    file = readFile(new URL(name, folder));
    // A failed read (a broken install) is tried again next time rather than remembered.
    file.catch(() => cache.delete(name));
    cache.set(name, file);
  }
  return file;
}

/** Writes one of the files above; the caller has set the security headers. */
export async function sendAsset(res: ServerResponse, name: string): Promise<void> {
  const type = types[name];
  if (type === undefined) throw new Error(`Not a dashboard asset: ${name}`);
  const body = await load(name);
  res.statusCode = 200;
  res.setHeader('Content-Type', type);
  res.setHeader('Content-Length', body.length);
  res.end(body);
}
