import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VerificationResult } from '../../protocol/biometrics.ts';
import type { ModelView } from '../../protocol/http/biometrics.ts';
import { syntheticPeople } from '../../src/biometrics/detectors/test-data.ts';
import { concatSamples, type FeatureMatrix, type SampleSet } from '../../src/biometrics/samples.ts';
import type { TestGateway } from '../support/gateway.ts';
import {
  adminVerify,
  newUser,
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

// Every input format, for enrolment and for verification, over real HTTP.
let gw: TestGateway;
let walk: Map<string, SampleSet>;

beforeAll(async () => {
  gw = await startBiometricGateway({ UPLOAD_BODY_LIMIT: '600000' });
  walk = await walking();
});
afterAll(() => gw.close());

async function accepted(reply: Promise<{ status: number; body: unknown }>): Promise<string> {
  const r = await reply;
  expect(r.status, JSON.stringify(r.body)).toBe(202);
  return (r.body as { enrollmentId: string }).enrollmentId;
}

const multipart = (file: Blob, filename: string, fields: Record<string, string> = {}) => {
  const form = new FormData();
  for (const [k, v] of Object.entries(fields)) form.set(k, v);
  form.set('file', file, filename);
  return form;
};

describe('samples in every format', () => {
  let owner: User;
  const enrolment = () => slice(walk.get('1620')!, 0, 1400);
  const probe = () => slice(walk.get('1620')!, 1800, 2300);

  beforeAll(async () => {
    owner = await newUser(gw.url);
  });

  it('enrols from binary frames (int16 with a scale), rate from the timestamps, channels named by query', async () => {
    const frames = toFrames(enrolment(), 20, { sampleType: 'int16' });
    const id = await accepted(
      send(gw.url, 'POST', '/v1/biometrics/enrollments?channels=x,y,z', owner, frames, 'application/octet-stream'),
    );
    expect(await settled(gw.url, owner, id)).toMatchObject({ status: 'ready', modelVersion: 1, rows: 1400 });
  });

  it('enrols from a multipart file with form fields (rate, modality, window, hop, detector)', async () => {
    const form = multipart(new Blob([toCsv(enrolment())], { type: 'text/csv' }), 'walk.csv', {
      rate: '20',
      modality: 'gait',
      window: '5',
      hop: '2.5',
      detector: 'shrunk-mahalanobis',
    });
    const id = await accepted(send(gw.url, 'POST', '/v1/biometrics/enrollments', owner, form));
    expect(await settled(gw.url, owner, id)).toMatchObject({
      status: 'ready',
      modelVersion: 2,
      modality: 'gait',
      detector: 'shrunk-mahalanobis',
    });
    const model = await send<ModelView>(gw.url, 'GET', '/v1/biometrics/model', owner);
    expect(model.body).toMatchObject({ version: 2, detector: 'shrunk-mahalanobis', requestedDetector: 'shrunk-mahalanobis' });
    expect(model.body.featureSpec).toMatchObject({ modality: 'gait', window: 5, hop: 2.5, windowSamples: 100, hopSamples: 50 });
  });

  it('enrols from an untyped multipart blob (sniffed JSON) and from a raw CSV with a t column (rate inferred)', async () => {
    const blob = multipart(new Blob([toJson(enrolment())]), 'blob');
    const id = await accepted(send(gw.url, 'POST', '/v1/biometrics/enrollments', owner, blob));
    expect(await settled(gw.url, owner, id)).toMatchObject({ status: 'ready', modelVersion: 3 });
    const timed = await accepted(
      send(gw.url, 'POST', '/v1/biometrics/enrollments', owner, toCsv(enrolment(), { time: true }), 'text/csv'),
    );
    expect(await settled(gw.url, owner, timed)).toMatchObject({ status: 'ready', modelVersion: 4 });
  });

  it('verifies CSV, JSON, frames and multipart uploads of the same samples identically', async () => {
    const samples = probe();
    const replies = await Promise.all([
      send<VerificationResult>(gw.url, 'POST', '/v1/biometrics/verify', owner, toCsv(samples), 'text/csv'),
      send<VerificationResult>(gw.url, 'POST', '/v1/biometrics/verify', owner, toJson(samples), 'application/json'),
      // Frames with neither rate nor names: the model's channel names, the timestamps' rate.
      send<VerificationResult>(gw.url, 'POST', '/v1/biometrics/verify', owner, toFrames(samples, 50), 'application/octet-stream'),
      send<VerificationResult>(
        gw.url,
        'POST',
        '/v1/biometrics/verify',
        owner,
        multipart(new Blob([toCsv(samples)], { type: 'text/csv' }), 'probe.csv'),
      ),
      // A t column that agrees with the declared rate.
      send<VerificationResult>(
        gw.url,
        'POST',
        '/v1/biometrics/verify?rate=20',
        owner,
        toCsv(samples, { time: true }),
        'text/csv',
      ),
    ]);
    for (const reply of replies) expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    expect(replies[0].body).toMatchObject({ modelVersion: 4, total: 19 });
    for (const reply of replies.slice(1)) expect(reply.body).toEqual(replies[0].body);
  });

  it('decodes and featurises a large upload in a worker thread, with the same scores', async () => {
    // ~5,300 samples, ~300 KB of CSV: above the 256 KiB decoded on the event loop.
    const parts = ['1621', '1622'].map((s) => walk.get(s)!.data);
    const long = concatSamples(20, ['x', 'y', 'z'], [probe().data, ...parts]);
    const body = toCsv(long);
    expect(body.length).toBeGreaterThan(256 * 1024);
    const [small, large] = await Promise.all([
      adminVerify(gw.url, owner, toCsv(probe()), 'text/csv'),
      adminVerify(gw.url, owner, body, 'text/csv'),
    ]);
    expect(large.status, JSON.stringify(large.body)).toBe(200);
    expect(large.body.total).toBe(Math.floor((long.length - 50) / 25) + 1);
    // Windows only see their own samples: the upload's first windows are the probe's.
    expect(large.body.windows.slice(0, small.body.total)).toEqual(small.body.windows);
    // A bad cell deep in a large upload is named just the same.
    const lines = body.split('\n');
    lines[4000] = '1,2,oops';
    const bad = await send(gw.url, 'POST', '/v1/biometrics/verify', owner, lines.join('\n'), 'text/csv');
    expect(bad.status).toBe(422);
    expect(bad.body).toMatchObject({
      error: {
        code: 'SAMPLES_INVALID',
        details: [{ field: '/rows/4000/z', message: 'line 4001, column z: "oops" is not a number' }],
      },
    });
  });
});

describe('feature rows (kind=features): one row, one test', () => {
  const D = 12;
  const columns = Array.from({ length: D }, (_, i) => `k${i}`);
  const people = syntheticPeople(6, D, 100, 77);
  const rowsCsv = (m: FeatureMatrix, from: number, to: number) =>
    `${columns.join(',')}\n${Array.from({ length: to - from }, (_, r) => Array.from(m.data.subarray((from + r) * D, (from + r + 1) * D)).join(',')).join('\n')}\n`;
  const rowsJson = (m: FeatureMatrix, from: number, to: number) =>
    JSON.stringify({
      kind: 'features',
      columns,
      rows: Array.from({ length: to - from }, (_, r) => Array.from(m.data.subarray((from + r) * D, (from + r + 1) * D))),
    });

  it("trains against other accounts' feature rows and verifies new rows", async () => {
    const users = await Promise.all(people.slice(0, 4).map(() => newUser(gw.url)));
    // Three cohort members first (JSON, CSV, multipart), then the owner.
    for (const [i, user] of users.slice(1).entries()) {
      const person = people[i + 1]!;
      const body =
        i === 0
          ? send(
              gw.url,
              'POST',
              '/v1/biometrics/enrollments?modality=keystroke',
              user,
              rowsJson(person, 0, 70),
              'application/json',
            )
          : i === 1
            ? send(
                gw.url,
                'POST',
                '/v1/biometrics/enrollments?kind=features&modality=keystroke',
                user,
                rowsCsv(person, 0, 70),
                'text/csv',
              )
            : send(
                gw.url,
                'POST',
                '/v1/biometrics/enrollments',
                user,
                multipart(new Blob([rowsCsv(person, 0, 70)], { type: 'text/csv' }), 'k.csv', {
                  kind: 'features',
                  modality: 'keystroke',
                }),
              );
      const id = await accepted(body);
      expect(await settled(gw.url, user, id)).toMatchObject({ status: 'ready', kind: 'features', windows: 70 });
    }
    const owner = users[0]!;
    const id = await accepted(
      send(
        gw.url,
        'POST',
        '/v1/biometrics/enrollments?kind=features&modality=keystroke',
        owner,
        rowsCsv(people[0]!, 0, 70),
        'text/csv',
      ),
    );
    const view = await settled(gw.url, owner, id);
    expect(view).toMatchObject({ status: 'ready', kind: 'features', modality: 'keystroke', windows: 70 });
    expect(view.metrics).toMatchObject({ cohortMembers: 3, genuineWindows: 70 });

    // Verification needs no kind: the model says feature rows.
    const genuine = await adminVerify(gw.url, owner, rowsCsv(people[0]!, 70, 100), 'text/csv');
    expect(genuine.status).toBe(200);
    expect(genuine.body).toMatchObject({ total: 30, verdict: 'accept' });
    expect(genuine.body.windows[4]).toMatchObject({ index: 4, start: 4 });
    const stranger = await send<VerificationResult>(
      gw.url,
      'POST',
      '/v1/biometrics/verify',
      owner,
      rowsJson(people[5]!, 0, 30),
      'application/json',
    );
    expect(stranger.status).toBe(200);
    expect(stranger.body.verdict).toBe('reject');
    expect(stranger.body.accepted).toBeLessThan(genuine.body.accepted);
  });
});
