import { moduleOf } from '../support/modules.ts';
import { Queue, UnrecoverableError, Worker } from 'bullmq';
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EnrollmentView } from '../../protocol/http/biometrics.ts';
import { QUEUE_NAMES, queueConnection, trainingJobId, type TrainingJob } from '../../src/storage/queues.ts';
import type { TestGateway } from '../support/gateway.ts';
import { newUser, send, slice, startBiometricGateway, toCsv, walking, type User } from './support.ts';

// What the reconciler (run by the biometrics sweeper) does when Mongo and the training queue
// disagree after a crash; a status read only reads. No embedded worker: the test plays the
// (dying) worker itself.
let gw: TestGateway;
let user: User;
let queue: Queue<TrainingJob>;

beforeAll(async () => {
  gw = await startBiometricGateway({ VIGIL_EMBEDDED_WORKERS: '0' });
  user = await newUser(gw.url);
  queue = new Queue<TrainingJob>(QUEUE_NAMES.training, queueConnection(gw.config));
});
afterAll(async () => {
  await queue.close();
  await gw.close();
});

async function enrol(): Promise<string> {
  const walk = (await walking()).get('1613')!;
  const reply = await send<{ enrollmentId: string }>(
    gw.url,
    'POST',
    '/v1/biometrics/enrollments?rate=20',
    user,
    toCsv(slice(walk, 0, 800)),
    'text/csv',
  );
  expect(reply.status).toBe(202);
  return reply.body.enrollmentId;
}

const status = async (id: string) => (await send<EnrollmentView>(gw.url, 'GET', `/v1/biometrics/enrollments/${id}`, user)).body;
/** One pass of the sweeper's reconciler, now rather than in 30 s. */
const reconcile = () => moduleOf(gw, 'biometrics').reconciler.sweep();

describe('training job recovery', () => {
  it('a failure its worker host never recorded: left alone at first, recorded once it is old', async () => {
    const id = await enrol();
    // A worker that fails the job without recording anything in Mongo (as if its host died).
    const worker = new Worker<TrainingJob>(
      QUEUE_NAMES.training,
      async () => {
        throw new UnrecoverableError('the training thread vanished');
      },
      queueConnection(gw.config),
    );
    try {
      await vi.waitFor(async () => expect(await queue.getJobState(trainingJobId(id))).toBe('failed'), { timeout: 10_000 });
    } finally {
      await worker.close();
    }
    expect((await queue.getJob(trainingJobId(id)))?.failedReason).toBe('the training thread vanished');
    // Fresh: the host may still be recording the catalogued reason; the reconciler waits.
    await reconcile();
    expect(await status(id)).toMatchObject({ status: 'queued' });
    // Long ago: nobody will; the reconciler records it (a status read alone does not).
    await gw.gateway.redis.hset(`{bull}:training:${trainingJobId(id)}`, 'finishedOn', String(Date.now() - 120_000));
    expect(await status(id)).toMatchObject({ status: 'queued' });
    await reconcile();
    expect(await status(id)).toMatchObject({
      status: 'failed',
      error: { code: 'MODEL_TRAINING_FAILED', message: 'Model training failed: the training thread vanished' },
    });
  });

  it('queued in Mongo but no job in Redis (a crash between the two writes): queued again', async () => {
    const id = await enrol();
    await queue.remove(trainingJobId(id));
    expect(await queue.getJob(trainingJobId(id))).toBeUndefined();
    // Recent: it may still be on its way.
    await reconcile();
    expect(await status(id)).toMatchObject({ status: 'queued' });
    expect(await queue.getJob(trainingJobId(id))).toBeUndefined();
    await gw.gateway.mongo.db
      .collection('enrollments')
      .updateOne({ _id: new ObjectId(id) }, { $set: { committedAt: new Date(Date.now() - 120_000) } });
    expect(await status(id)).toMatchObject({ status: 'queued' });
    expect(await queue.getJob(trainingJobId(id))).toBeUndefined(); // a read queues nothing
    await reconcile();
    expect((await queue.getJob(trainingJobId(id)))?.data).toEqual({ enrollmentId: id, userId: user.userId });
  });
});
