import { MongoClient, ObjectId, type Db } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModelStore, type ModelRecord } from '../../src/biometrics/models/model-store.ts';
import type { VersionSlot } from '../../src/biometrics/models/model-versions.ts';
import type { ModelArtifact } from '../../src/biometrics/training.ts';
import { dropTestData } from '../support/gateway.ts';
import { testConfig } from '../support/config.ts';

// A user's current model is read by `_id`: a hint (`model_heads`), the version slots above it
// (`model_versions`), then the model (FerretDB scans for any other filter, and its updates are not
// atomic). These check the newest version wins whatever order writes land in, on real FerretDB.
const config = testConfig();
let mongo: MongoClient;
let db: Db;
let store: ModelStore;

beforeAll(async () => {
  mongo = new MongoClient(config.MONGO_URL);
  await mongo.connect();
  db = mongo.db(config.MONGO_DB);
  store = new ModelStore(db);
  await store.ensureIndexes();
});
afterAll(async () => {
  await mongo.close();
  await dropTestData(config);
});

/** The store keeps whatever it is given; the head logic does not look inside a model. */
function artifact(tag: number): ModelArtifact {
  return {
    format: 'vigil-biometric-model/1',
    detector: 'scaled-manhattan',
    requestedDetector: 'scaled-manhattan',
    oneClassFallback: false,
    threshold: tag,
    onnx: new Uint8Array([tag]),
    params: {},
  } as unknown as ModelArtifact;
}

const heads = () => db.collection<{ _id: string; version: number }>('model_heads');

describe('model heads', () => {
  it('the head follows the newest stored version; listing and the next version number come from it', async () => {
    const first = await store.insertVersion('head-user', new ObjectId(), artifact(1));
    const second = await store.insertVersion('head-user', new ObjectId(), artifact(2));
    expect([first.version, second.version]).toEqual([1, 2]);
    const latest = await store.latest('head-user');
    expect(latest?._id.equals(second._id)).toBe(true);
    expect(latest?.threshold).toBe(2);
    expect(await store.versions('head-user')).toEqual([1, 2]);
    expect(await store.latest('nobody')).toBeNull();
  });

  it('a head moved back by a late writer of an older version (FerretDB updates race) still answers the newest', async () => {
    await store.insertVersion('late-user', new ObjectId(), artifact(1));
    const newer = await store.insertVersion('late-user', new ObjectId(), artifact(2));
    // What two racing head writes can leave: the older one landed last.
    await heads().updateOne({ _id: 'late-user' }, { $set: { version: 1 } });
    expect((await store.latest('late-user'))?._id.equals(newer._id)).toBe(true);
    // The reader moved the hint forward again, and the next version is numbered after the newest.
    expect((await heads().findOne({ _id: 'late-user' }))?.version).toBe(2);
    expect((await store.insertVersion('late-user', new ObjectId(), artifact(3))).version).toBe(3);
  });

  it('a version claimed but not stored yet (or never: its job died) is passed over', async () => {
    const stored = await store.insertVersion('inflight-user', new ObjectId(), artifact(1));
    await store.versionSlots.claim('inflight-user', new ObjectId());
    expect((await store.latest('inflight-user'))?._id.equals(stored._id)).toBe(true);
  });

  it('a job killed between claiming its version and storing its model stores it once when retried', async () => {
    const enrollmentId = new ObjectId();
    // The dead attempt's claim: no model behind it yet, so no version to list.
    await store.versionSlots.claim('killed-user', enrollmentId);
    expect(await store.versions('killed-user')).toEqual([]);
    const model = await store.insertVersion('killed-user', enrollmentId, artifact(1));
    expect(model.version).toBe(1);
    expect(await store.versions('killed-user')).toEqual([1]);
  });

  it('a retried job whose claimed version was overtaken stores the newest version and drops the dead claim', async () => {
    const slow = new ObjectId();
    await store.versionSlots.claim('overtaken-user', slow);
    const other = await store.insertVersion('overtaken-user', new ObjectId(), artifact(1));
    expect(other.version).toBe(2);
    const retried = await store.insertVersion('overtaken-user', slow, artifact(2));
    expect(retried.version).toBe(3);
    expect(await store.versions('overtaken-user')).toEqual([2, 3]);
    expect((await store.latest('overtaken-user'))?._id.equals(slow)).toBe(true);
    // The claim of the dead attempt is discarded, not left for a walk to trip on.
    expect((await db.collection<VersionSlot>('model_versions').findOne({ _id: 'overtaken-user:1' }))?.discarded).toBe(true);
  });

  it('a late attempt of a stored job, killed after claiming above a newer version, does not make its older model current', async () => {
    const slow = new ObjectId();
    const stored = await store.insertVersion('stale-claim-user', slow, artifact(1));
    const newer = await store.insertVersion('stale-claim-user', new ObjectId(), artifact(2));
    expect([stored.version, newer.version]).toEqual([1, 2]);
    // A second attempt of the slow job (its lock expired while the first ran) claims a version after
    // the newer one and dies before it can find the model stored and discard its claim.
    expect(await store.versionSlots.claimFor('stale-claim-user', slow)).toBe(3);
    expect((await store.latest('stale-claim-user'))?._id.equals(newer._id)).toBe(true);
    expect(await store.versions('stale-claim-user')).toEqual([1, 2]);
  });

  it('concurrent versions of one account each get their own number, and the head names the highest', async () => {
    const stored = await Promise.all(
      Array.from({ length: 6 }, (_, i) => store.insertVersion('busy-user', new ObjectId(), artifact(i))),
    );
    expect(stored.map((m) => m.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    const highest = stored.find((m) => m.version === 6)!;
    expect((await store.latest('busy-user'))?._id.equals(highest._id)).toBe(true);
    expect(await store.versions('busy-user')).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('a model is found by its enrolment (a retried job), and one enrolment cannot store two', async () => {
    const enrollmentId = new ObjectId();
    const model = await store.insertVersion('retry-user', enrollmentId, artifact(1));
    expect((await store.byEnrollment(enrollmentId, 'retry-user'))?._id.equals(model._id)).toBe(true);
    expect(await store.byEnrollment(new ObjectId(), 'retry-user')).toBeNull();
    await expect(store.insertVersion('retry-user', enrollmentId, artifact(2))).rejects.toThrow(/already has a model/);
  });

  it('discarding the head version steps the head back; deleting every version removes it, and numbering restarts', async () => {
    const kept = await store.insertVersion('discard-user', new ObjectId(), artifact(1));
    const discarded = await store.insertVersion('discard-user', new ObjectId(), artifact(2));
    await store.deleteById(discarded._id);
    expect((await store.latest('discard-user'))?._id.equals(kept._id)).toBe(true);
    expect(await store.versions('discard-user')).toEqual([1]);
    expect(await store.deleteForUser('discard-user')).toBe(1);
    expect(await store.latest('discard-user')).toBeNull();
    expect(await heads().countDocuments({ _id: 'discard-user' })).toBe(0);
    expect((await store.insertVersion('discard-user', new ObjectId(), artifact(3))).version).toBe(1);
  });

  it('models stored before heads existed get one at start-up (idempotent), and then answer by `_id`', async () => {
    const models = db.collection<Omit<ModelRecord, 'onnx' | 'params'> & { onnx: Uint8Array; params: object }>('models');
    const base = { ...artifact(0), params: {}, createdAt: new Date(), userId: 'old-user' };
    const ids = [new ObjectId(), new ObjectId(), new ObjectId()];
    // What an older gateway stored: random ids, versions out of insertion order (4 discarded), no head.
    for (const [i, version] of [2, 5, 1].entries()) {
      await models.insertOne({ ...base, _id: ids[i]!, version, enrollmentId: new ObjectId(), threshold: version });
    }
    expect(await store.latest('old-user')).toBeNull();
    await store.ensureIndexes();
    await store.ensureIndexes();
    const latest = await store.latest('old-user');
    expect(latest?.version).toBe(5);
    expect(latest?._id.equals(ids[1])).toBe(true);
    expect(await store.versions('old-user')).toEqual([1, 2, 5]);
    expect((await store.insertVersion('old-user', new ObjectId(), artifact(6))).version).toBe(6);
  });
});
