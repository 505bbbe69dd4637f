/**
 * Sends calls to their owners: per owner, the calls made in one turn of the event loop, then those
 * made while a batch is in flight, go in one POST (as group commit does), over kept-alive
 * connections. What comes back decides what the caller does:
 * - an answer (or the owner's fault) for each call;
 * - `fallback` when nothing was done there: the connection was refused, the owner is draining,
 *   refused the request (4xx), or does not serve the type; the caller runs the call itself (the
 *   version check keeps it right);
 * - `OWNER_UNREACHABLE` when the request went out and no answer came: it may have committed.
 */
import http from 'node:http';
import https from 'node:https';
import { decodeFrozen } from '../core/json.js';
import { messageOf, OwnerUnreachableError } from '../errors.js';
import { Batcher } from '../runtime/batcher.js';
import { CALLS_PATH, type ForwardedAnswer, type ForwardedCall } from './protocol.js';

export type ForwardOutcome = ForwardedAnswer | { readonly fallback: string };

export class ForwardClient {
  /** Per owner: the calls made in one turn of the event loop, then those made while a batch is in flight, in one POST. */
  readonly #batchers = new Map<string, Batcher<ForwardedCall, ForwardOutcome>>();
  readonly #agents = {
    http: new http.Agent({ keepAlive: true, maxSockets: 32, timeout: 5_000 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 32, timeout: 5_000 }),
  };

  constructor(
    private readonly secret: string,
    private readonly timeoutMs: number,
    private readonly maxBatch: number,
  ) {}

  /** Resolves with what the owner answered, or `fallback`; rejects with `OWNER_UNREACHABLE`. */
  send(address: string, call: ForwardedCall): Promise<ForwardOutcome> {
    let batcher = this.#batchers.get(address);
    if (!batcher) {
      // A lane's messages go in one POST: the owner holds back the rest of a lane whose message it
      // did not handle only among those it has.
      batcher = new Batcher(
        (calls) => this.#post(address, calls),
        this.maxBatch,
        undefined,
        1,
        (call) => call.lane,
      );
      this.#batchers.set(address, batcher);
    }
    return batcher.submit(call);
  }

  close(): void {
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }

  async #post(address: string, calls: readonly ForwardedCall[]): Promise<readonly ForwardOutcome[]> {
    const outcome = await this.#request(address, JSON.stringify({ calls }));
    if ('answers' in outcome && outcome.answers.length === calls.length) return outcome.answers;
    if ('fallback' in outcome) return calls.map(() => outcome);
    const reason = 'answers' in outcome ? 'answers missing' : outcome.unreachable;
    throw new OwnerUnreachableError(
      address,
      `The call was sent to its owner at ${address} and no answer came (${reason}): it may or may not have committed`,
    );
  }

  #request(
    address: string,
    body: string,
  ): Promise<{ answers: ForwardedAnswer[] } | { fallback: string } | { unreachable: string }> {
    return new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(CALLS_PATH, address);
      } catch {
        resolve({ fallback: `the owner's address ${address} is not a URL` });
        return;
      }
      const secure = url.protocol === 'https:';
      let connected = false;
      const req = (secure ? https : http).request(url, {
        method: 'POST',
        agent: secure ? this.#agents.https : this.#agents.http,
        headers: {
          authorization: `Bearer ${this.secret}`,
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
        },
      });
      req.on('socket', (socket) => {
        if (!socket.connecting) connected = true;
        else socket.once('connect', () => (connected = true));
      });
      const timer = setTimeout(() => req.destroy(new Error(`no answer in ${this.timeoutMs} ms`)), this.timeoutMs);
      req.on('error', (error) => {
        clearTimeout(timer);
        // Once connected, the request may have reached the owner, even on a kept-alive connection
        // that breaks (the owner may have died after committing): never run it again here.
        if (!connected) resolve({ fallback: `cannot connect: ${messageOf(error)}` });
        else resolve({ unreachable: messageOf(error) });
      });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => {
          clearTimeout(timer);
          resolve({ unreachable: messageOf(error) });
        });
        res.on('end', () => {
          clearTimeout(timer);
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status === 503) return resolve({ fallback: 'the owner is draining' });
          // The owner refuses a request it will not run (a wrong secret, a body it does not take) before running any of it.
          if (status >= 400 && status < 500)
            return resolve({ fallback: `refused with HTTP ${status}: ${text.slice(0, 200)}` });
          if (status !== 200) return resolve({ unreachable: `HTTP ${res.statusCode}: ${text.slice(0, 200)}` });
          try {
            // Frozen, as a local call's state is.
            const parsed = decodeFrozen<{ answers?: ForwardedAnswer[] }>(text);
            if (!Array.isArray(parsed.answers)) throw new Error('no answers');
            resolve({ answers: parsed.answers });
          } catch (error) {
            resolve({ unreachable: `a malformed answer: ${messageOf(error)}` });
          }
        });
      });
      req.end(body);
    });
  }
}
