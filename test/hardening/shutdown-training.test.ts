import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTrainingWorker, type TrainingWorker } from '../../workers/training-worker.ts';
import { biometricsOf } from '../continuous/support.ts';
import { SPEC, enrolmentPart } from '../continuous/wisdm.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { startMongoCommandCut, type MongoCommandCut } from './support/mongo-command-cut.ts';

// The training worker's job events start writes of their own (the audit record of a trained
// model, a final failure's record) after BullMQ's handler returns. Closing the worker while one is
// in flight must wait for it before closing MongoDB: the write lands, nothing is logged as failed.
// The worker reaches Mongo through a proxy that holds the audit insert, so it is in flight for sure.
const SETTLE_MS = 500; // ample for an unwaited close to reach mongo.close() (a Redis quit away)
let proxy: MongoCommandCut;
let gw: TestGateway;
let training: TrainingWorker | undefined;
const logged: Array<{ level: number; msg: string; err?: { type?: string } }> = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_EMBEDDED_WORKERS: 'false' });
  const upstream = new URL(gw.config.MONGO_URL);
  proxy = await startMongoCommandCut({ host: upstream.hostname, port: Number(upstream.port || 27017) });
  const logs = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push(JSON.parse(chunk.toString()) as (typeof logged)[number]);
      done();
    },
  });
  training = await startTrainingWorker(
    { ...gw.config, MONGO_URL: proxy.url(gw.config.MONGO_URL) },
    pino({ level: 'warn' }, logs),
  );
}, 60_000);

afterAll(async () => {
  await training?.close();
  await gw?.close();
  await proxy?.close();
});

describe('closing the training worker', () => {
  it('waits for the audit write a finished job started, then closes MongoDB', async () => {
    const userId = `trained-at-close-${process.pid}`;
    const { held, release } = proxy.hold((c) => c.name === 'insert' && c.collection === 'audit');
    const accepted = await biometricsOf(gw).enroll(userId, await enrolmentPart('1610'), {
      source: 'http',
      modality: SPEC.modality,
    });
    await held;

    const worker = training!;
    training = undefined;
    const closed = once(worker.worker, 'closed');
    const closing = worker.close();
    await closed;
    await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
    release();
    await closing;

    expect(logged.filter((line) => line.level >= 50).map((line) => `${line.msg}: ${line.err?.type}`)).toEqual([]);
    const audit = await gw.gateway.mongo.db.collection('audit').findOne({ userId, event: 'biometric.enrolled' });
    expect(audit).toMatchObject({ outcome: 'success', detail: { enrollmentId: accepted.enrollmentId } });
  }, 120_000);
});
