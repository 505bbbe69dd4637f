/**
 * Who may see the dashboard: a request that carries the token (`Authorization: Bearer <token>`,
 * for scripts) or the session cookie the login page sets. Secrets are compared in constant time:
 * both sides are hashed with SHA-256 first, so `timingSafeEqual` compares equal lengths and the
 * time taken says nothing about the token, not even its length.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const COOKIE = 'pachyderm_dashboard';

/** True when `given` equals `expected`, in time that does not depend on where they differ. */
export function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(expected, 'utf8').digest();
  return timingSafeEqual(a, b);
}

export class Auth {
  /**
   * The cookie holds a value derived from the token, not the token itself: a browser's cookie jar
   * then never holds the secret an operator typed, and changing the token ends every session.
   */
  readonly #session: string;

  constructor(
    private readonly token: string,
    private readonly basePath: string,
  ) {
    this.#session = createHmac('sha256', token).update('pachyderm dashboard session v1').digest('base64url');
  }

  /** True for a request with the right bearer token or session cookie. */
  allows(req: IncomingMessage): boolean {
    // Another scheme (a proxy's Basic auth in front) is not ours: the cookie decides then.
    const bearer = /^Bearer (.+)$/i.exec(req.headers.authorization?.trim() ?? '');
    if (bearer) return sameSecret(bearer[1] as string, this.token);
    // Another dashboard on this host (another port or path) may have set a cookie of the same name.
    return cookieValues(req.headers.cookie, COOKIE).some((value) => sameSecret(value, this.#session));
  }

  /** True when `given` (typed on the login page) is the token. */
  isToken(given: unknown): boolean {
    return typeof given === 'string' && sameSecret(given, this.token);
  }

  /**
   * The session cookie: HttpOnly (no script reads it), SameSite=Strict (no other site's page makes
   * the browser send it), only under the dashboard's path, Secure when the request came over TLS.
   */
  loginCookie(req: IncomingMessage): string {
    return `${COOKIE}=${this.#session}; ${this.#attributes(req)}`;
  }

  logoutCookie(req: IncomingMessage): string {
    return `${COOKIE}=; Max-Age=0; ${this.#attributes(req)}`;
  }

  #attributes(req: IncomingMessage): string {
    const secure = (req.socket as { encrypted?: boolean }).encrypted === true ? '; Secure' : '';
    return `HttpOnly; SameSite=Strict; Path=${this.basePath || '/'}${secure}`;
  }
}

function cookieValues(header: string | undefined, name: string): string[] {
  if (header === undefined) return [];
  const values: string[] = [];
  for (const part of header.split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) values.push(part.slice(at + 1).trim());
  }
  return values;
}
