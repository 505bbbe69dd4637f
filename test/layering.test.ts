/**
 * The tree shows the pipeline, and the layering stays true: `core/` (the pure decision step) imports
 * nothing with I/O, only other pure code and the port's types; the stores know nothing of the
 * runtime that uses them; the outbox knows nothing of the runtime either. Read from the imports of
 * every source file.
 */
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = new URL('../src/', import.meta.url).pathname;

interface Import {
  readonly file: string;
  /** The target, relative to src/ for the project's own files; the specifier for anything else. */
  readonly target: string;
  readonly typeOnly: boolean;
}

async function imports(): Promise<Import[]> {
  const files = (await readdir(src, { recursive: true })).filter((f) => f.endsWith('.ts'));
  const found: Import[] = [];
  for (const file of files) {
    const text = await readFile(join(src, file), 'utf8');
    for (const match of text.matchAll(/^(?:import|export)(\s+type)?\b[^'"]*?from\s+'([^']+)'/gms)) {
      const specifier = match[2] as string;
      const target = specifier.startsWith('.')
        ? relative(src, join(src, dirname(file), specifier)).replace(/\.js$/, '.ts')
        : specifier;
      found.push({ file, target, typeOnly: match[1] !== undefined });
    }
  }
  return found;
}

const all = await imports();
const from = (folder: string) => all.filter((i) => i.file.startsWith(folder));
const describeImport = (i: Import) => `${i.file} imports ${i.typeOnly ? 'types from ' : ''}${i.target}`;

describe('layering', () => {
  it('reads the imports of every stage', () => {
    for (const folder of ['define/', 'core/', 'runtime/', 'outbox/', 'read/', 'store/', 'testing/']) {
      expect(from(folder).length, folder).toBeGreaterThan(0);
    }
  });

  it('keeps core/ pure: only core, define, errors, and the types of the storage port', () => {
    const allowed = (i: Import) =>
      i.target.startsWith('core/') ||
      i.target.startsWith('define/') ||
      i.target === 'errors.ts' ||
      (i.typeOnly && i.target.startsWith('store/port/'));
    expect(
      from('core/')
        .filter((i) => !allowed(i))
        .map(describeImport),
    ).toEqual([]);
  });

  it('keeps define/ free of I/O: definitions are data', () => {
    const allowed = (i: Import) =>
      i.target.startsWith('define/') ||
      i.target.startsWith('core/') ||
      i.target === 'errors.ts' ||
      i.target === 'outbox/retry-policy.ts' ||
      // A messageSchema's type: the package is types only.
      (i.typeOnly && i.target === '@standard-schema/spec');
    expect(
      from('define/')
        .filter((i) => !allowed(i))
        .map(describeImport),
    ).toEqual([]);
  });

  it('keeps the stores and the outbox ignorant of the runtime', () => {
    const runtimeSide = (i: Import) =>
      ['runtime/', 'outbox/', 'read/', 'define/', 'testing/'].some((f) => i.target.startsWith(f));
    expect(from('store/').filter(runtimeSide).map(describeImport)).toEqual([]);
    expect(
      from('outbox/')
        .filter((i) => i.target.startsWith('runtime/'))
        .map(describeImport),
    ).toEqual([]);
  });

  it('keeps telemetry beside the pipeline: only the OpenTelemetry API, errors and the port types; no store traces', () => {
    const allowed = (i: Import) =>
      i.target.startsWith('telemetry/') ||
      i.target === '@opentelemetry/api' ||
      i.target === 'errors.ts' ||
      (i.typeOnly && i.target.startsWith('store/port/'));
    expect(
      from('telemetry/')
        .filter((i) => !allowed(i))
        .map(describeImport),
    ).toEqual([]);
    expect(
      all
        .filter((i) => i.target === '@opentelemetry/api' && !i.file.startsWith('telemetry/'))
        .filter((i) => i.file.startsWith('store/') || i.file.startsWith('core/'))
        .map(describeImport),
    ).toEqual([]);
    expect(from('telemetry/').length).toBeGreaterThan(0);
  });
});
