import { moduleOf } from '../support/modules.ts';
import { Value } from '@sinclair/typebox/value';
import { ObjectId } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { VerificationResultSchema, VerificationSummarySchema, type VerificationSummary } from '../../protocol/biometrics.ts';
import {
  EnrollmentView as EnrollmentViewSchema,
  ModelView as ModelViewSchema,
  type EnrollmentView,
  type ModelView,
} from '../../protocol/http/biometrics.ts';
import { dataCipher } from '../../src/crypto/data-cipher.ts';
import { scoreReference } from '../../src/biometrics/detectors/index.ts';
import { extractWindows } from '../../src/biometrics/features/extract-windows.ts';
import { ModelStore } from '../../src/biometrics/models/model-store.ts';
import { scoresAgree } from '../../src/biometrics/onnx/onnx-check.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import type { TestGateway } from '../support/gateway.ts';
import {
  PASSWORD,
  enrolCsv,
  errorOf,
  listenToEnrollments,
  newUser,
  adminVerify,
  send,
  settled,
  slice,
  startBiometricGateway,
  toCsv,
  toFrames,
  toJson,
  walking,
  type User,
} from './support.ts';

// Enrolment through BullMQ (real Redis), models in FerretDB, verification through the Piscina
// pool, over real HTTP. Walking recordings of the shared WISDM set: each subject enrols on the
// first 1,500 samples (75 s, 59 windows) and is verified on the last 600 (30 s, 23 windows).
let gw: TestGateway;
let data: Map<string, SampleSet>;
const subjects = ['1600', '1601', '1602', '1603', '1604', '1605'];
const enrolPart = (s: string) => slice(data.get(s)!, 0, 1500);
const testPart = (s: string) => {
  const all = data.get(s)!;
  return slice(all, all.length - 600, all.length);
};

let owner: User;
let first: EnrollmentView;

beforeAll(async () => {
  gw = await startBiometricGateway({ UPLOAD_BODY_LIMIT: '400000' });
  data = await walking();
  // Three other accounts enrol first: they are the cohort the owner's model is trained against.
  const cohort = await Promise.all(subjects.slice(1, 4).map(() => newUser(gw.url)));
  for (const [i, user] of cohort.entries()) {
    const view = await enrolCsv(gw, user, enrolPart(subjects[i + 1]!));
    expect(view.status).toBe('ready');
  }
  owner = await newUser(gw.url);
});
afterAll(() => gw.close());

const verify = (user: User, samples: SampleSet) =>
  send<VerificationSummary>(gw.url, 'POST', '/v1/biometrics/verify', user, toCsv(samples), 'text/csv');
/** The operator's view with per-window scores (the account's own answer has none). */
const evaluate = (user: User, samples: SampleSet) => adminVerify(gw.url, user, toCsv(samples), 'text/csv');

describe('enrolment end to end', () => {
  it('queues a BullMQ job, trains in a child process (queued → training → ready) and stores version 1', async () => {
    const listener = await listenToEnrollments(gw);
    try {
      const reply = await send<{ enrollmentId: string; status: string; windows: number; uploads: number }>(
        gw.url,
        'POST',
        '/v1/biometrics/enrollments?rate=20&modality=motion',
        owner,
        toCsv(enrolPart(subjects[0]!)),
        'text/csv',
      );
      expect(reply.status).toBe(202);
      expect(reply.body).toEqual({
        enrollmentId: expect.stringMatching(/^[0-9a-f]{24}$/),
        status: 'queued',
        uploads: 1,
        windows: 59,
      });
      expect(reply.headers.get('location')).toBe(`/v1/biometrics/enrollments/${reply.body.enrollmentId}`);
      first = await settled(gw.url, owner, reply.body.enrollmentId);
      expect(first).toMatchObject({
        status: 'ready',
        progress: 1,
        modelVersion: 1,
        kind: 'samples',
        modality: 'motion',
        windows: 59,
        rows: 1500,
      });
      expect(Value.Check(EnrollmentViewSchema, first)).toBe(true);
      // The cohort was big enough for the default (discriminative) detector.
      expect(first.metrics).toMatchObject({ cohortMembers: 3, genuineWindows: 59, thresholdRule: 'eer' });

      // The record turns ready in the training child; the event follows from the worker's host.
      const ofThis = () => listener.events.filter((e) => e.enrollmentId === reply.body.enrollmentId);
      await vi.waitFor(() => expect(ofThis().at(-1)?.status).toBe('ready'), { timeout: 10_000 });
      const mine = ofThis();
      const statuses = mine.map((e) => e.status).filter((s, i, all) => s !== all[i - 1]);
      expect(statuses).toEqual(['queued', 'training', 'ready']);
      expect(mine.every((e) => e.userId === owner.userId)).toBe(true);
      const progress = mine.filter((e) => e.status === 'training').map((e) => e.progress);
      expect(progress.length).toBeGreaterThan(2);
      expect([...progress].sort((a, b) => a - b)).toEqual(progress);
      expect(mine.at(-1)).toMatchObject({ status: 'ready', progress: 1, modelVersion: 1 });
    } finally {
      await listener.close();
    }
  });

  it('trained off the event loop: the job ran in a child process', async () => {
    const job = await gw.gateway.redis.hget(`{bull}:training:train-${first.enrollmentId}`, 'returnvalue');
    expect(job).not.toBeNull();
    const outcome = JSON.parse(job!) as { status: string; pid: number };
    expect(outcome.status).toBe('ready');
    expect(outcome.pid).toBeGreaterThan(0);
    expect(outcome.pid).not.toBe(process.pid);
  });

  it('serves the model metadata (no bytes) and audits the enrolment', async () => {
    const reply = await send<ModelView>(gw.url, 'GET', '/v1/biometrics/model', owner);
    expect(reply.status).toBe(200);
    expect(Value.Check(ModelViewSchema, reply.body)).toBe(true);
    expect(reply.body).toMatchObject({
      version: 1,
      versions: [1],
      enrollmentId: first.enrollmentId,
      detector: 'logistic-cohort',
    });
    expect(reply.body.featureSpec).toMatchObject({
      kind: 'samples',
      rate: 20,
      channels: ['x', 'y', 'z'],
      windowSamples: 50,
      hopSamples: 25,
    });
    expect(JSON.stringify(reply.body)).not.toContain('onnx');
    await vi.waitFor(async () => {
      const audit = await gw.gateway.mongo.db.collection('audit').findOne({ event: 'biometric.enrolled', userId: owner.userId });
      expect(audit).toMatchObject({ outcome: 'success', detail: { modelVersion: 1, enrollmentId: first.enrollmentId } });
    });
  });

  it('verifies: the documented shape, accepts the owner, rejects someone else, deterministic', async () => {
    const genuine = await verify(owner, testPart(subjects[0]!));
    expect(genuine.status).toBe(200);
    expect(Value.Check(VerificationSummarySchema, genuine.body)).toBe(true);
    expect(genuine.body).toMatchObject({ total: 23, modelVersion: 1, verdict: 'accept' });
    expect(genuine.body.ratio).toBeCloseTo(genuine.body.accepted / 23, 10);
    // The operator's view of the same upload carries the windows.
    const evaluated = await evaluate(owner, testPart(subjects[0]!));
    expect(Value.Check(VerificationResultSchema, evaluated.body)).toBe(true);
    expect(evaluated.body.windows).toHaveLength(23);
    expect(evaluated.body.windows[1]).toMatchObject({ index: 1, start: 25 });
    expect(evaluated.body).toMatchObject(genuine.body);
    // Someone outside the cohort.
    const impostor = await verify(owner, testPart(subjects[5]!));
    expect(impostor.status).toBe(200);
    expect(impostor.body.verdict).toBe('reject');
    expect((await evaluate(owner, testPart(subjects[5]!))).body.score).toBeLessThan(evaluated.body.score);
    const again = await verify(owner, testPart(subjects[0]!));
    expect(again.body).toEqual(genuine.body);
  });

  it('scores through the pool exactly as the TypeScript reference does on the stored parameters', async () => {
    const store = new ModelStore(gw.gateway.mongo.db, dataCipher(gw.config));
    const meta = await store.latest(owner.userId);
    const params = await store.params(meta!._id);
    expect(params?.name).toBe(meta!.detector);
    const samples = testPart(subjects[4]!);
    const reference = scoreReference(params!, extractWindows(samples, meta!.featureSpec).features);
    const reply = await evaluate(owner, samples);
    expect(reply.status).toBe(200);
    expect(reply.body.windows).toHaveLength(reference.length);
    reply.body.windows.forEach((w, i) =>
      expect(scoresAgree(w.score, reference[i]!), `window ${i}: ${w.score} vs ${reference[i]}`).toBe(true),
    );
    expect(reply.body.threshold).toBe(meta!.threshold);
  });

  it('a second enrolment (JSON this time) creates version 2, and verification uses it', async () => {
    const reply = await send<{ enrollmentId: string }>(
      gw.url,
      'POST',
      '/v1/biometrics/enrollments',
      owner,
      toJson(slice(data.get(subjects[0]!)!, 300, 1800)),
      'application/json',
    );
    expect(reply.status).toBe(202);
    const view = await settled(gw.url, owner, reply.body.enrollmentId);
    expect(view).toMatchObject({ status: 'ready', modelVersion: 2 });
    const model = await send<ModelView>(gw.url, 'GET', '/v1/biometrics/model', owner);
    expect(model.body).toMatchObject({ version: 2, versions: [1, 2], enrollmentId: reply.body.enrollmentId });
    const old = await send<ModelView>(gw.url, 'GET', '/v1/biometrics/model?version=1', owner);
    expect(old.body).toMatchObject({ version: 1, enrollmentId: first.enrollmentId });
    const result = await verify(owner, testPart(subjects[0]!));
    expect(result.body.modelVersion).toBe(2);
  });

  it('another account cannot see or extend the enrolment (404), and has no model of its own', async () => {
    const stranger = await newUser(gw.url);
    const status = await send(gw.url, 'GET', `/v1/biometrics/enrollments/${first.enrollmentId}`, stranger);
    expect(status.status).toBe(404);
    expect(errorOf(status)).toMatchObject({ code: 'NOT_FOUND', message: 'Enrollment not found' });
    const commit = await send(gw.url, 'POST', `/v1/biometrics/enrollments/${first.enrollmentId}/commit`, stranger);
    expect(commit.status).toBe(404);
    const append = await send(
      gw.url,
      'POST',
      `/v1/biometrics/enrollments/${first.enrollmentId}/uploads?rate=20`,
      stranger,
      toCsv(enrolPart(subjects[0]!)),
      'text/csv',
    );
    expect(append.status).toBe(404);
    const model = await send(gw.url, 'GET', '/v1/biometrics/model', stranger);
    expect(model.status).toBe(404);
    expect(errorOf(model).code).toBe('BIOMETRIC_MODEL_MISSING');
    const verdict = await verify(stranger, testPart(subjects[0]!));
    expect(verdict.status).toBe(404);
    expect(errorOf(verdict).code).toBe('BIOMETRIC_MODEL_MISSING');
    // An id that is not even an ObjectId is a validation error, not a lookup.
    expect((await send(gw.url, 'GET', '/v1/biometrics/enrollments/nope', stranger)).status).toBe(400);
  });
});

describe('open enrolment: several uploads, one model', () => {
  it('collects uploads in any format until committed; windows never span two uploads', async () => {
    const user = await newUser(gw.url);
    const samples = data.get(subjects[5]!)!;
    const opened = await send<{ enrollmentId: string; status: string; uploads: number; windows: number }>(
      gw.url,
      'POST',
      '/v1/biometrics/enrollments?rate=20&open=true',
      user,
      toCsv(slice(samples, 0, 500)),
      'text/csv',
    );
    expect(opened.status).toBe(202);
    expect(opened.body).toMatchObject({ status: 'open', uploads: 1, windows: 19 });
    const id = opened.body.enrollmentId;
    // Frames without a rate (inferred from their timestamps) and without channel names (the enrolment's).
    const frames = await send(
      gw.url,
      'POST',
      `/v1/biometrics/enrollments/${id}/uploads`,
      user,
      toFrames(slice(samples, 500, 1000)),
      'application/octet-stream',
    );
    expect(frames.status).toBe(202);
    expect(frames.body).toMatchObject({ status: 'open', uploads: 2, windows: 38 });
    // A multipart file whose columns come in another order.
    const reordered = slice(samples, 1000, 1500);
    const csv = toCsv(reordered)
      .split('\n')
      .map((line) => (line ? line.split(',').reverse().join(',') : line))
      .join('\n');
    const form = new FormData();
    form.set('rate', '20');
    form.set('file', new Blob([csv], { type: 'text/csv' }), 'walk.csv');
    const multipart = await send(gw.url, 'POST', `/v1/biometrics/enrollments/${id}/uploads`, user, form);
    expect(multipart.status).toBe(202);
    expect(multipart.body).toMatchObject({ uploads: 3, windows: 57 });
    const before = await send<EnrollmentView>(gw.url, 'GET', `/v1/biometrics/enrollments/${id}`, user);
    expect(before.body).toMatchObject({ status: 'open', progress: 0, uploads: 3, rows: 1500, windows: 57 });

    const committed = await send(gw.url, 'POST', `/v1/biometrics/enrollments/${id}/commit`, user);
    expect(committed.status).toBe(202);
    expect(committed.body).toMatchObject({ status: 'queued', uploads: 3, windows: 57 });
    const view = await settled(gw.url, user, id);
    expect(view).toMatchObject({ status: 'ready', modelVersion: 1, windows: 57 });
    // Committing again answers the state; uploading now is refused.
    const again = await send(gw.url, 'POST', `/v1/biometrics/enrollments/${id}/commit`, user);
    expect(again.body).toMatchObject({ status: 'ready' });
    const late = await send(
      gw.url,
      'POST',
      `/v1/biometrics/enrollments/${id}/uploads?rate=20`,
      user,
      toCsv(slice(samples, 0, 500)),
      'text/csv',
    );
    expect(late.status).toBe(409);
    expect(errorOf(late)).toMatchObject({
      code: 'ENROLLMENT_NOT_OPEN',
      message: `Enrolment ${id} is ready; uploads are only added while it is open`,
    });
  });
});

describe('model deletion and withdrawal', () => {
  it('DELETE /v1/biometrics/model removes every version and the enrolment data', async () => {
    const user = await newUser(gw.url);
    const view = await enrolCsv(gw, user, enrolPart(subjects[4]!));
    expect(view.status).toBe('ready');
    const biometrics = moduleOf(gw, 'biometrics');
    const heard: string[] = [];
    const off = biometrics.service.onModelsDeleted((event) => heard.push(event.userId));
    const deleted = await send(gw.url, 'DELETE', '/v1/biometrics/model', user);
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ deletedVersions: 1, deletedEnrollments: 1 });
    // Every gateway process hears it (Redis pub/sub), so live streams stop scoring with the model.
    await vi.waitFor(() => expect(heard).toEqual([user.userId]));
    off();
    expect((await send(gw.url, 'GET', '/v1/biometrics/model', user)).status).toBe(404);
    expect((await send(gw.url, 'GET', `/v1/biometrics/enrollments/${view.enrollmentId}`, user)).status).toBe(404);
    expect((await verify(user, testPart(subjects[4]!))).status).toBe(404);
    const db = gw.gateway.mongo.db;
    expect(await db.collection('enrollment_parts').countDocuments({ userId: user.userId })).toBe(0);
    expect(await db.collection('audit').findOne({ event: 'biometric.model_deleted', userId: user.userId })).toMatchObject({
      detail: { versions: 1, enrollments: 1, reason: 'requested' },
    });
    // Enrolling again starts over at version 1.
    expect((await enrolCsv(gw, user, enrolPart(subjects[4]!))).modelVersion).toBe(1);
  });

  it('withdrawing the account deletes its models and samples', async () => {
    const user = await newUser(gw.url);
    const view = await enrolCsv(gw, user, enrolPart(subjects[5]!));
    expect(view.status).toBe('ready');
    const db = gw.gateway.mongo.db;
    expect(await db.collection('models').countDocuments({ userId: user.userId })).toBe(1);
    const withdrawn = await send(
      gw.url,
      'POST',
      '/v1/accounts/me/withdraw',
      user,
      JSON.stringify({ password: PASSWORD }),
      'application/json',
    );
    expect(withdrawn.status).toBe(200);
    expect(await db.collection('models').countDocuments({ userId: user.userId })).toBe(0);
    expect(await db.collection('enrollments').countDocuments({ userId: user.userId })).toBe(0);
    expect(await db.collection('enrollment_parts').countDocuments({ userId: user.userId })).toBe(0);
    expect(await db.collection('enrollments').countDocuments({ _id: new ObjectId(view.enrollmentId) })).toBe(0);
  });
});
