import { describe, expect, it } from 'vitest';
import { VigilError } from '../../../protocol/errors.ts';
import { createLogger } from '../../observability/logger.ts';
import type { ActiveModel } from '../biometric-service.ts';
import { LiveModels, type LiveModel, type ModelHolder, type ModelSource } from './live-models.ts';

// The registry of live models against a model source that fails the way MongoDB does when it is
// away (a rejected read), then answers. "No model" is the answer used once it recovers, so the
// source needs no trained model to say something a holder can tell apart from the old one.
const logger = createLogger('silent');
const OLD = { modelId: 'old-model' } as LiveModel;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class FlakySource implements ModelSource {
  reads = 0;
  constructor(private failures: number) {}
  activeModel(): Promise<ActiveModel> {
    this.reads++;
    if (this.failures-- > 0) return Promise.reject(new Error('MongoServerSelectionError: connection refused'));
    return Promise.reject(new VigilError('BIOMETRIC_MODEL_MISSING'));
  }
}

function holder(userId: string): ModelHolder & { seen: Array<LiveModel | null> } {
  const seen: Array<LiveModel | null> = [];
  return { userId, seen, useModel: (model) => void seen.push(model) };
}

async function until(condition: () => boolean, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe('live models', () => {
  it('tries a failed reload again until it succeeds, and the holders get the new state', async () => {
    const source = new FlakySource(2);
    const models = new LiveModels(source, logger, () => {}, [10, 10, 10]);
    const h = holder('u1');
    models.hold(h, OLD);
    await models.refresh('u1');
    expect(h.seen).toEqual([]); // the first read failed: the stream keeps the old model for now
    await until(() => h.seen.length > 0);
    expect(h.seen).toEqual([null]);
    expect(source.reads).toBe(3);
  });

  it('gives up after its last retry, and a later change supersedes a pending retry', async () => {
    const source = new FlakySource(Number.POSITIVE_INFINITY);
    const models = new LiveModels(source, logger, () => {}, [10, 10]);
    models.hold(holder('u2'), OLD);
    await models.refresh('u2');
    await sleep(100);
    expect(source.reads).toBe(3); // the first read and two retries, then nothing more
    const slow = new LiveModels(source, logger, () => {}, [200]);
    const h = holder('u3');
    slow.hold(h, OLD);
    await slow.refresh('u3');
    void slow.dropped('u3'); // the deletion wins at once; the pending retry is cancelled
    const reads = source.reads;
    await sleep(300);
    expect(h.seen).toEqual([null]);
    expect(source.reads).toBe(reads + 1); // the read after the drop, no retry of the superseded reload
    slow.close();
  });

  it('stops scoring with deleted models at once, even when nothing can be read', async () => {
    const source = new FlakySource(Number.POSITIVE_INFINITY);
    const models = new LiveModels(source, logger, () => {}, []);
    const h = holder('u4');
    models.hold(h, OLD);
    await models.dropped('u4');
    expect(h.seen).toEqual([null]);
  });

  it('stops retrying for a user nobody here holds any more', async () => {
    const source = new FlakySource(Number.POSITIVE_INFINITY);
    const models = new LiveModels(source, logger, () => {}, [20, 20, 20]);
    const h = holder('u5');
    models.hold(h, OLD);
    await models.refresh('u5');
    models.release(h);
    await sleep(100);
    expect(source.reads).toBe(1);
  });
});
