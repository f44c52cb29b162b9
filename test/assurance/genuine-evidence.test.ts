import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GenuineEvidenceStore } from '../../src/biometrics/assurance/genuine-evidence.ts';
import { connectRedis, createRedis, type RedisClient } from '../../src/storage/redis.ts';
import { testConfig } from '../support/config.ts';

// A streaming device is scored window after window; the evidence that its session reads genuine
// must not cost a Redis write per window, yet must be current enough to prove the owner, and must
// go as soon as the session reads anything else.

const REFRESH_MS = 30_000;
/** Stands still unless moved: the test compares the times written. */
let now = Date.now();
const clock = { now: () => now };
let redis: RedisClient;
let store: GenuineEvidenceStore;

beforeAll(async () => {
  redis = createRedis(testConfig());
  await connectRedis(redis, 5_000);
  store = new GenuineEvidenceStore(redis, clock, 600, REFRESH_MS);
});

afterAll(() => {
  redis?.disconnect();
});

let sessions = 0;
const sessionId = () => `evidence-${process.pid}-${++sessions}`;
/** Every write so far has been sent: a read on the same connection answers after them. */
const settled = (id: string) => store.read(id);

describe('genuine evidence', () => {
  it('is written when the session becomes genuine, then at most once per refresh interval while it stays so', async () => {
    const id = sessionId();
    const mark = store.mark(id);
    mark.scored('uncertain', 1);
    expect(await settled(id)).toBeUndefined();
    mark.scored('genuine', 1);
    const first = await settled(id);
    expect(first).toEqual({ at: clock.now(), modelVersion: 1 });

    // Windows keep coming; nothing is rewritten (deleted behind its back, it stays deleted).
    await store.clear(id);
    for (let i = 0; i < 200; i++) mark.scored('genuine', 1);
    now += REFRESH_MS - 1;
    mark.scored('genuine', 1);
    expect(await settled(id)).toBeUndefined();

    now += 1;
    mark.scored('genuine', 1);
    expect(await settled(id)).toEqual({ at: clock.now(), modelVersion: 1 });
  });

  it('follows a new model version at once and is deleted with the first window that is not genuine', async () => {
    const id = sessionId();
    const mark = store.mark(id);
    mark.scored('genuine', 1);
    mark.scored('genuine', 2);
    expect(await settled(id)).toMatchObject({ modelVersion: 2 });
    mark.scored('impostor', 2);
    expect(await settled(id)).toBeUndefined();
    mark.scored('genuine', 2);
    expect(await settled(id)).toMatchObject({ modelVersion: 2 });
  });

  it('a later socket of the session deletes evidence an earlier one left, once it reads something else', async () => {
    const id = sessionId();
    store.mark(id).scored('genuine', 1);
    expect(await settled(id)).toBeDefined();
    const later = store.mark(id);
    later.scored('replay', 1);
    expect(await settled(id)).toBeUndefined();
  });
});
