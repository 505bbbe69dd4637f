/**
 * This node's endpoint for calls its peers forward: Node's own `http`, one POST per batch. A
 * request without the secret is refused (401) before its body is read; a malformed or oversized
 * one gets 400 or 413; while the node drains, 503 (the sender runs the calls itself). None of
 * these does anything.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../logger.js';
import { CALLS_PATH, type ForwardedAnswer, type ForwardedCall, parseCalls } from './protocol.js';

export interface ServedCalls {
  serve(call: ForwardedCall): Promise<ForwardedAnswer>;
  /** True once the node is leaving: new batches are turned away with 503. */
  draining(): boolean;
}

export class ForwardServer {
  readonly #server: http.Server;
  readonly #secret: Buffer;
  readonly #inFlight = new Set<Promise<void>>();

  constructor(
    secret: string,
    private readonly maxRequestBytes: number,
    private readonly calls: ServedCalls,
    private readonly logger: Logger,
  ) {
    this.#secret = digest(secret);
    this.#server = http.createServer((req, res) => this.#handle(req, res));
    // Longer than the client's idle socket timeout, so the client closes idle connections first.
    this.#server.keepAliveTimeout = 10_000;
  }

  listen(host: string, port: number): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        const address = this.#server.address() as AddressInfo;
        resolve({ host: address.address, port: address.port });
      });
    });
  }

  /** Stops listening, lets the batches under way finish, then closes every connection. */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    await Promise.allSettled([...this.#inFlight]);
    this.#server.closeAllConnections();
    await closed;
  }

  /** Every request counts as under way from its first byte until its answer is sent. */
  #handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const done = new Promise<void>((resolve) => res.once('close', resolve));
    this.#inFlight.add(done);
    void done.then(() => this.#inFlight.delete(done));
    this.#answer(req, res);
  }

  #answer(req: http.IncomingMessage, res: http.ServerResponse) {
    const reply = (status: number, body: unknown) => {
      // The sender may be gone (it gave up waiting): nothing here may throw into the process.
      if (res.destroyed || res.headersSent) return;
      try {
        const text = JSON.stringify(body);
        res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      } catch (error) {
        this.logger.error('cluster: answering a forwarded batch failed', { error });
        res.destroy();
      }
    };
    const refuse = (status: number, error: string) => {
      // Answered once the body is in (and thrown away): an answer while the sender still writes
      // could be lost to a reset connection, and the sender would not know that nothing was done.
      res.setHeader('connection', 'close');
      if (req.readableEnded) return reply(status, { error });
      req.on('end', () => reply(status, { error }));
      req.resume();
    };
    // The secret first: without it, nothing about the endpoint is told.
    if (!this.#authorized(req.headers.authorization)) return refuse(401, 'the cluster secret is missing or wrong');
    if (new URL(req.url ?? '/', 'http://node').pathname !== CALLS_PATH) return refuse(404, 'not found');
    if (req.method !== 'POST') return refuse(405, 'POST only');
    if (this.calls.draining()) return refuse(503, 'draining');
    const declared = Number(req.headers['content-length'] ?? 0);
    if (declared > this.maxRequestBytes) {
      res.setHeader('connection', 'close');
      return reply(413, { error: `the body is over ${this.maxRequestBytes} bytes` });
    }

    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > this.maxRequestBytes) {
        tooLarge = true;
        chunks.length = 0;
      } else if (!tooLarge) chunks.push(chunk);
    });
    req.on('error', () => res.destroy());
    req.on('end', () => {
      if (tooLarge) return refuse(413, `the body is over ${this.maxRequestBytes} bytes`);
      let calls: readonly ForwardedCall[] | string;
      try {
        calls = parseCalls(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        calls = 'the body is not JSON';
      }
      if (typeof calls === 'string') return refuse(400, calls);
      Promise.all(calls.map((call) => this.calls.serve(call))).then(
        (answers) => reply(200, { answers }),
        (error) => {
          this.logger.error('cluster: serving forwarded calls failed', { error });
          reply(500, { error: 'internal error' });
        },
      );
    });
  }

  #authorized(header: string | undefined): boolean {
    if (typeof header !== 'string' || !header.startsWith('Bearer ')) return false;
    return timingSafeEqual(digest(header.slice('Bearer '.length)), this.#secret);
  }
}

/** Equal-length digests, so the comparison takes the same time whatever was sent. */
function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}
