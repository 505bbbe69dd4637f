/**
 * Reading a route's query string. Values go to the system as they came: it checks ids, types and
 * versions itself and refuses bad ones with its own codes (`INVALID_ID`, `UNKNOWN_ENTITY_TYPE`,
 * `INVALID_CONFIGURATION`), which the dashboard answers as 400 or 404.
 */
import type { EntityRef } from '../define/entity.js';

/** The entity a request names; a missing id stays missing so that the system refuses it. */
export function refOf(params: URLSearchParams): EntityRef {
  return { type: params.get('type') ?? '', id: params.get('id') as string };
}

/**
 * A whole number from the query, `fallback` when absent. Anything but digits is NaN, which the
 * system refuses: `Number('')` would otherwise quietly be 0.
 */
export function integerParam(params: URLSearchParams, name: string, fallback: number): number {
  const raw = params.get(name);
  if (raw === null) return fallback;
  return /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
}
