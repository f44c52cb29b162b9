import { VigilError } from '../../protocol/errors.ts';

const MONGO_UNAVAILABLE = new Set([
  'MongoServerSelectionError',
  'MongoNetworkError',
  'MongoNetworkTimeoutError',
  'MongoTopologyClosedError',
  'MongoPoolClearedError',
  'MongoNotConnectedError',
]);

const REDIS_UNAVAILABLE = [
  /Stream isn't writeable/,
  /Connection is closed/,
  /Reached the max retries per request limit/,
  /connect ECONNREFUSED/,
  /Connection timeout/,
];

/**
 * Recognises "the store is away" errors from the mongodb driver and ioredis, so they become
 * a catalogued 503 (retry later) instead of a 500 (our bug).
 */
export function dependencyFailure(err: unknown): VigilError | undefined {
  if (!(err instanceof Error)) return undefined;
  if (MONGO_UNAVAILABLE.has(err.name) || err.name.startsWith('MongoNetwork')) {
    return new VigilError('DEPENDENCY_UNAVAILABLE', { dependency: 'mongo' }, { cause: err, headers: { 'retry-after': '1' } });
  }
  if (err.name === 'MaxRetriesPerRequestError' || REDIS_UNAVAILABLE.some((re) => re.test(err.message))) {
    return new VigilError('DEPENDENCY_UNAVAILABLE', { dependency: 'redis' }, { cause: err, headers: { 'retry-after': '1' } });
  }
  return undefined;
}

export function toVigilError(err: unknown): VigilError {
  if (err instanceof VigilError) return err;
  return dependencyFailure(err) ?? new VigilError('INTERNAL', {}, { cause: err });
}
