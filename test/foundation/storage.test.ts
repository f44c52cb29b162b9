import { once } from 'node:events';
import { connect, createServer, type AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectMongo, isDuplicateKey, type MongoStore } from '../../src/storage/mongo.ts';
import { toVigilError } from '../../src/storage/dependency-errors.ts';
import { testConfig } from '../support/config.ts';
import { dropTestData } from '../support/gateway.ts';

// Facts about the MongoDB-wire server that the stores rely on, checked against the real one.
const config = testConfig();
let mongo: MongoStore;

beforeAll(async () => {
  mongo = await connectMongo(config);
});
afterAll(async () => {
  await mongo.close();
  await dropTestData(config);
});

describe('MongoDB-wire storage', () => {
  it('detects what the server can do', () => {
    if (mongo.capabilities.ferretdb) {
      expect(mongo.capabilities).toEqual({ ferretdb: true, ttlIndexes: false, transactions: false });
    } else {
      expect(mongo.capabilities.ttlIndexes).toBe(true);
    }
  });

  it('surfaces a unique-index conflict as the duplicate-key error (11000)', async () => {
    const things = mongo.db.collection('things');
    await things.createIndex({ email: 1 }, { unique: true, sparse: true });
    await things.insertOne({ email: 'a@example.com' });
    const err = await things.insertOne({ email: 'a@example.com' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isDuplicateKey(err)).toBe(true);
  });

  it('lets a sparse unique index hold many documents without the field', async () => {
    const things = mongo.db.collection('things');
    await things.insertOne({ name: 'one' });
    await things.insertOne({ name: 'two' });
    expect(await things.countDocuments({ email: { $exists: false } })).toBe(2);
  });

  it('maps an unreachable server to a catalogued 503, not a 500', async () => {
    const err = Object.assign(new Error('connection refused'), { name: 'MongoServerSelectionError' });
    const mapped = toVigilError(err);
    expect(mapped.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(mapped.status).toBe(503);
    expect(mapped.message).toBe('mongo is unavailable');
  });

  it('maps a socket the server ended under a write (EPIPE, thrown unwrapped by the driver) to a 503', async () => {
    // A real EPIPE: write to a connection whose peer has closed it.
    const server = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    socket.on('error', () => {}); // the same error, also emitted
    await once(socket, 'end');
    const err = await new Promise<Error>((resolve) => socket.write('x', (e) => resolve(e as Error)));
    server.close();
    expect((err as { code?: string }).code).toBe('EPIPE');
    const mapped = toVigilError(err);
    expect(mapped.code).toBe('DEPENDENCY_UNAVAILABLE');
    expect(mapped.status).toBe(503);
  });
});
