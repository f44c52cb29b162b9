import { VigilError } from '../../protocol/errors.ts';

const MONGO_UNAVAILABLE = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'MongoNotConnectedError',
  // The gateway closed its client under a request still in flight (the operation's implicit
  // session ended with it; Vigil starts no explicit sessions, so this is never a misused one).
  'MongoClientClosedError',
  'MongoExpiredSessionError',
]);

const REDIS_UNAVAILABLE = [
  /Stream isn't writeable/,
  /Connection is closed/,
  /Reached the max retries per request limit/,
  /connect ECONNREFUSED/,
  /Connection timeout/,
  /Command aborted due to connection close/,
  // A Redis Cluster or Sentinel failover in progress: a master is gone and its replica not yet
  // promoted, or a demoted master still answers.
  /^CLUSTERDOWN/,
  /^MOVED /,
  /^ASK /,
  /^TRYAGAIN/,
  /^LOADING/,
  /^READONLY/,
  // A master that may not write without its replicas (min-replicas-to-write) while they are gone.
  /^NOREPLICAS/,
  /Cluster isn't ready/,
  /Too many Cluster redirections/,
  /None of startup nodes is available/,
  /All sentinels are unreachable/,
];

// A socket error that escapes a driver unwrapped (the mongodb driver throws Node's own EPIPE
// "socket has been ended by the other party" when it writes to a connection the server just
// closed). Handlers open no sockets of their own, so it comes from a store.
const SOCKET_ERROR_CODES = new Set(['EPIPE', 'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'ENOTCONN']);

function socketErrorSource(err: Error): string | undefined {
  const code = (err as { code?: unknown }).code;
  if (typeof code !== 'string' || !SOCKET_ERROR_CODES.has(code)) return undefined;
  const stack = err.stack ?? '';
  if (stack.includes('/mongodb/')) return 'mongo';
  if (stack.includes('/ioredis/')) return 'redis';
  return 'storage';
}

/**
 * Recognises "the store is away" errors from the mongodb driver and ioredis, so they become
 * a catalogued 503 (retry later) instead of a 500 (our bug).
 */
export function dependencyFailure(err: unknown): VigilError | undefined {
  if (!(err instanceof Error)) return undefined;
  if (MONGO_UNAVAILABLE.has(err.name) || err.name.startsWith('MongoNetwork')) {
    return new VigilError('DEPENDENCY_UNAVAILABLE', { dependency: 'mongo' }, { cause: err, headers: { 'retry-after': '1' } });
  }
  if (
    err.name === 'MaxRetriesPerRequestError' ||
    err.name === 'ClusterAllFailedError' ||
    err.name === 'ReplicationTimeout' ||
    REDIS_UNAVAILABLE.some((re) => re.test(err.message))
  ) {
    return new VigilError('DEPENDENCY_UNAVAILABLE', { dependency: 'redis' }, { cause: err, headers: { 'retry-after': '1' } });
  }
  const source = socketErrorSource(err);
  if (source)
    return new VigilError('DEPENDENCY_UNAVAILABLE', { dependency: source }, { cause: err, headers: { 'retry-after': '1' } });
  return undefined;
}

export function toVigilError(err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  return dependencyFailure(err) ?? new VigilError('INTERNAL', {}, { cause: err });
}
