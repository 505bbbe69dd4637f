/**
 * The `cluster` option of `createSystem`, checked, with its defaults.
 */
import { hostname } from 'node:os';
import { ConfigurationError } from '../errors.js';

export interface ClusterOptions {
  /** This node's name, stable across its restarts (partitions are assigned by name). Default `hostname:pid`. */
  readonly name?: string;
  /** Where this node listens for calls forwarded by its peers. Port 0 picks a free one. */
  readonly listen: { readonly host: string; readonly port: number };
  /** How peers reach this node, e.g. `http://10.0.0.5:7600`. Default `http://<listen.host>:<port>`. */
  readonly advertise?: string;
  /** Shared by every node: a forwarded call without it is refused (401). */
  readonly secret: string;
  /** Entity ids hash to this many partitions; every node must use the same number. Default 1024. */
  readonly partitions?: number;
  /** How often a node renews its membership and moves partitions. Default 1000. */
  readonly heartbeatMs?: number;
  /** A node whose heartbeat is older than this is dead; its partitions go to others. Default 3000. */
  readonly memberTtlMs?: number;
  /** A forwarded call that has no answer after this rejects with `OWNER_UNREACHABLE`. Default 30 000. */
  readonly forwardTimeoutMs?: number;
  /** The largest forwarded request body a node accepts (413 beyond). Default 8 MiB. */
  readonly maxRequestBytes?: number;
}

export type ClusterConfig = ReturnType<typeof resolveClusterOptions>;

export function resolveClusterOptions(options: ClusterOptions) {
  if (options === null || typeof options !== 'object') throw problem('must be an object');
  const { listen, secret } = options;
  if (typeof secret !== 'string' || secret.length === 0) {
    throw problem('secret is required: a non-empty string shared by every node');
  }
  if (listen === null || typeof listen !== 'object' || typeof listen.host !== 'string' || listen.host === '') {
    throw problem('listen must be { host, port }');
  }
  if (!Number.isInteger(listen.port) || listen.port < 0 || listen.port > 65535) {
    throw problem('listen.port must be an integer from 0 to 65535');
  }
  const name = options.name ?? `${hostname()}:${process.pid}`;
  if (typeof name !== 'string' || name === '' || name.length > 255) throw problem('name must be a non-empty string');
  if (options.advertise !== undefined && !isHttpUrl(options.advertise)) {
    throw problem('advertise must be an http:// or https:// URL');
  }
  const heartbeatMs = positive(options.heartbeatMs ?? 1000, 'heartbeatMs');
  const memberTtlMs = positive(options.memberTtlMs ?? 3000, 'memberTtlMs');
  if (memberTtlMs < 2 * heartbeatMs) throw problem('memberTtlMs must be at least twice heartbeatMs');
  const partitions = options.partitions ?? 1024;
  if (!Number.isInteger(partitions) || partitions < 1 || partitions > 65536) {
    throw problem('partitions must be an integer from 1 to 65536');
  }
  return {
    name,
    listen: { host: listen.host, port: listen.port },
    advertise: options.advertise,
    secret,
    partitions,
    heartbeatMs,
    memberTtlMs,
    forwardTimeoutMs: positive(options.forwardTimeoutMs ?? 30_000, 'forwardTimeoutMs'),
    maxRequestBytes: positive(options.maxRequestBytes ?? 8 * 1024 * 1024, 'maxRequestBytes'),
  };
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

function positive(value: number, name: string): number {
  if (typeof value !== 'number' || !(value > 0) || !Number.isFinite(value))
    throw problem(`${name} must be a positive number`);
  return value;
}

function problem(message: string): ConfigurationError {
  return new ConfigurationError(`createSystem cluster: ${message}`);
}
