import { Binary, MongoClient, ObjectId, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FeatureSpec } from '../../protocol/biometrics.ts';
import { EnrollmentStore, type EnrollmentRecord } from '../../src/biometrics/enrollment/enrollment-store.ts';
import { dropTestData } from '../support/gateway.ts';
import { testConfig } from '../support/config.ts';

// Enrolment parts are stored under `<enrolment>:<part>` and read one by one by `_id` (FerretDB scans
// for any other filter). Parts stored before that (ObjectId ids) must still read in order, and an
// open enrolment from before must take further uploads. Real FerretDB.
const config = testConfig();
let mongo: MongoClient;
let db: Db;
let store: EnrollmentStore;

beforeAll(async () => {
  mongo = new MongoClient(config.MONGO_URL);
  await mongo.connect();
  db = mongo.db(config.MONGO_DB);
  store = new EnrollmentStore(db);
  await store.ensureIndexes();
});
afterAll(async () => {
  await mongo.close();
  await dropTestData(config);
});

const spec = { channels: ['x', 'y'] } as unknown as FeatureSpec;
const rows = (...values: number[]) => new Float32Array(values);
const fresh = (userId: string) => store.create({ userId, source: 'http', spec });
const reread = async (e: EnrollmentRecord) => (await store.get(e.userId, e._id))!;

describe('enrolment parts by _id', () => {
  it('uploads and continuations read back in order, segment by segment', async () => {
    const e = await fresh('parts-user');
    await store.appendRows(e, rows(1, 2, 3, 4), 2, false);
    await store.appendRows(await reread(e), rows(5, 6), 1, true);
    await store.appendRows(await reread(e), rows(7, 8), 1, false);
    const ids = (await db.collection('enrollment_parts').find({ enrollmentId: e._id }).toArray()).map((p) => p._id);
    expect(ids.sort()).toEqual([0, 1, 2].map((part) => `${e._id.toHexString()}:${part}`));
    const segments = await store.segments(e);
    expect(segments.map((s) => [s.segment, s.rows, [...s.data]])).toEqual([
      [0, 3, [1, 2, 3, 4, 5, 6]],
      [2, 1, [7, 8]],
    ]);
    expect(await store.segmentRows(e._id)).toEqual([3, 1]);
  });

  it('a stale part counter (a writer died after its parts, before counting them) does not lose or reuse a part', async () => {
    const e = await fresh('stale-counter-user');
    await store.appendRows(e, rows(1, 1), 1, false);
    // `e` still says 0 parts: the next upload must find part 0 taken and use part 1.
    await store.appendRows(e, rows(2, 2), 1, false);
    expect((await store.segments(e)).map((s) => [...s.data])).toEqual([
      [1, 1],
      [2, 2],
    ]);
  });

  it('parts stored before (ObjectId ids) still read in order, and the enrolment takes more uploads', async () => {
    const e = await fresh('old-parts-user');
    const part = (n: number, segment: number, values: number[]) => ({
      _id: new ObjectId(),
      enrollmentId: e._id,
      userId: e.userId,
      part: n,
      segment,
      rows: values.length / 2,
      data: new Binary(new Uint8Array(new Float32Array(values).buffer)),
    });
    await db.collection('enrollment_parts').insertMany([part(1, 0, [3, 4]), part(0, 0, [1, 2])]);
    await db.collection('enrollments').updateOne({ _id: e._id }, { $set: { parts: 2, rows: 2, uploads: 1 } });
    expect((await store.segments(e)).map((s) => [...s.data])).toEqual([[1, 2, 3, 4]]);
    await store.appendRows(await reread(e), rows(5, 6), 1, true);
    expect((await store.segments(e)).map((s) => [s.segment, [...s.data]])).toEqual([[0, [1, 2, 3, 4, 5, 6]]]);
  });

  it("another account's enrolment id is not found", async () => {
    const e = await fresh('owner-user');
    expect(await store.get('someone-else', e._id)).toBeNull();
    expect((await store.get('owner-user', e._id))?._id.equals(e._id)).toBe(true);
  });
});
