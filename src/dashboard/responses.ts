/**
 * How every answer of the dashboard is written: the security headers on all of them, JSON that
 * cannot be read as HTML, and errors as `{ error: { code, message } }` with a status from the code.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isPachydermError, messageOf } from '../errors.js';

/** No inline script or style, nothing from elsewhere, never framed. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/** Sent with every answer, data or not: nothing here should be cached, sniffed, framed or leak a referrer. */
export function securityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
  res.setHeader('Cache-Control', 'no-store');
}

/**
 * JSON with `<`, `>`, `&` and the two JavaScript line separators escaped: the same data once
 * parsed, but no byte sequence of it can close a tag or open one should anything ever sniff it.
 */
export function safeJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = safeJson(value);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', Buffer.byteLength(body));
  res.end(body);
}

/** An error the dashboard answers itself (not one of the system's). */
export class DashboardError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'DashboardError';
  }
}

/** HTTP statuses of the system's codes that bad input or a closed system give; anything else is a 500. */
const statusOfCode: Record<string, number> = {
  INVALID_ID: 400,
  INVALID_CONFIGURATION: 400,
  NOT_SERIALIZABLE: 400,
  UNKNOWN_ENTITY_TYPE: 404,
  UNKNOWN_EFFECT: 404,
  STORE_UNAVAILABLE: 503,
  SYSTEM_CLOSED: 503,
};

export function sendError(res: ServerResponse, error: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (error instanceof DashboardError) {
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    sendJson(res, error.status, { error: { code: error.code, message: error.message } });
  } else if (isPachydermError(error)) {
    sendJson(res, statusOfCode[error.code] ?? 500, { error: { code: error.code, message: error.message } });
  } else {
    sendJson(res, 500, { error: { code: 'INTERNAL_ERROR', message: messageOf(error) } });
  }
}

export function redirect(res: ServerResponse, location: string): void {
  res.statusCode = 303;
  res.setHeader('Location', location);
  res.end();
}

/**
 * The fields of a small request body (a login form, an action): JSON or a URL-encoded form, refused
 * past `limit` bytes. A body that an Express or Connect parser read already is taken as it is.
 */
export async function readFields(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const parsed = (req as IncomingMessage & { body?: unknown }).body;
  if (parsed !== null && typeof parsed === 'object' && !Buffer.isBuffer(parsed) && req.readableEnded) {
    return parsed as Record<string, unknown>;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new DashboardError(413, 'BODY_TOO_LARGE', `The request body is over ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (!(req.headers['content-type'] ?? '').startsWith('application/json')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    const value: unknown = text === '' ? {} : JSON.parse(text);
    if (value !== null && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new DashboardError(400, 'BAD_REQUEST', 'The request body must be a JSON object');
}
