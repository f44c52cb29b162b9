import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { dataCipher } from '../../src/crypto/data-cipher.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import { encodeFrame } from '../../protocol/frames.ts';
import { EnrollmentStore } from '../../src/biometrics/enrollment/enrollment-store.ts';
import {
  enrolCsv,
  errorOf,
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

// Every way an upload can be refused, over real HTTP: the catalogued status and code, and
// details naming the field, row or frame.
let gw: TestGateway;
let uploader: User;
let walk: SampleSet;

beforeAll(async () => {
  gw = await startBiometricGateway({
    UPLOAD_BODY_LIMIT: '200000',
    VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR: '60',
    VIGIL_BIOMETRIC_VERIFY_PER_MINUTE: '30',
    VIGIL_BIOMETRIC_MAX_VERIFY_WINDOWS: '40',
  });
  uploader = await newUser(gw.url);
  walk = (await walking()).get('1610')!;
});
afterAll(() => gw.close());

const enrol = (body: RequestInit['body'], contentType?: string, query = 'rate=20', user: User = uploader) =>
  send(gw.url, 'POST', `/v1/biometrics/enrollments?${query}`, user, body, contentType);

async function refused(reply: Promise<{ status: number; body: unknown }>, status: number, code: string) {
  const r = await reply;
  expect({ status: r.status, code: errorOf(r as never)?.code }).toEqual({ status, code });
  return errorOf(r as never);
}

describe('request-level refusals', () => {
  it('needs an access token', async () => {
    await refused(
      send(gw.url, 'POST', '/v1/biometrics/enrollments?rate=20', undefined, 'x\n1\n', 'text/csv'),
      401,
      'TOKEN_MISSING',
    );
    await refused(send(gw.url, 'GET', '/v1/biometrics/model', undefined), 401, 'TOKEN_MISSING');
  });

  it('refuses other content types (415), bodies over the limit (413) and empty bodies (400)', async () => {
    await refused(enrol('<p>hi</p>', 'text/html'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    await refused(enrol('x\n' + '1\n'.repeat(110_000), 'text/csv'), 413, 'BODY_TOO_LARGE');
    await refused(enrol('', 'text/csv'), 400, 'BODY_INVALID');
  });

  it('validates parameters: unknown, out of range, a window too short for the rate', async () => {
    const csv = toCsv(slice(walk, 0, 100));
    const unknown = await refused(enrol(csv, 'text/csv', 'rate=20&speed=3'), 400, 'VALIDATION_FAILED');
    expect(unknown.details?.[0]?.field).toBe('query.speed');
    expect((await refused(enrol(csv, 'text/csv', 'rate=-1'), 400, 'VALIDATION_FAILED')).details?.[0]?.field).toBe('query.rate');
    expect((await refused(enrol(csv, 'text/csv', 'rate=20&kind=audio'), 400, 'VALIDATION_FAILED')).details?.[0]?.field).toBe(
      'query.kind',
    );
    expect((await refused(enrol(csv, 'text/csv', 'rate=20&detector=svm'), 400, 'VALIDATION_FAILED')).details?.[0]?.field).toBe(
      'query.detector',
    );
    const short = await refused(enrol(csv, 'text/csv', 'rate=20&window=0.2'), 400, 'VALIDATION_FAILED');
    expect(short.details).toEqual([{ field: 'window', message: 'window must span at least 8 samples; 0.2 s at 20 Hz is 4' }]);
    const rows = await refused(enrol('a,b\n1,2\n', 'text/csv', 'kind=features&window=2'), 400, 'VALIDATION_FAILED');
    expect(rows.message).toMatch(/apply to kind=samples/);
  });

  it('multipart: needs a file part; a parameter comes from one place only', async () => {
    const noFile = new FormData();
    noFile.set('rate', '20');
    expect((await refused(enrol(noFile, undefined, ''), 400, 'BODY_INVALID')).message).toMatch(/no file part/);
    const twice = new FormData();
    twice.set('rate', '20');
    twice.set('file', new Blob([toCsv(slice(walk, 0, 100))], { type: 'text/csv' }), 'a.csv');
    expect((await refused(enrol(twice, undefined, 'rate=20'), 400, 'VALIDATION_FAILED')).details?.[0]).toEqual({
      field: 'rate',
      message: 'given both as a query parameter and as a form field',
    });
    const badField = new FormData();
    badField.set('rate', 'fast');
    badField.set('file', new Blob([toCsv(slice(walk, 0, 100))], { type: 'text/csv' }), 'a.csv');
    expect((await refused(enrol(badField, undefined, ''), 400, 'VALIDATION_FAILED')).details?.[0]?.field).toBe('rate');
  });
});

describe('sample data refusals (422)', () => {
  const header = 'x,y,z\n';
  const good = (n: number) => Array.from({ length: n }, (_, i) => `${i % 7},${i % 5},${i % 3}`).join('\n');

  it.each([
    [
      'a non-numeric cell',
      `${header}1,2,3\n4,abc,6\n`,
      'SAMPLES_INVALID',
      '/rows/2/y',
      'line 3, column y: "abc" is not a number',
    ],
    ['a ragged row', `${header}1,2,3\n4,5\n`, 'SAMPLES_INVALID', '/rows/2', 'line 3 has 2 cells; the header has 3'],
    ['NaN', `${header}1,2,3\nNaN,5,6\n`, 'SAMPLES_INVALID', '/rows/2/x', 'line 3, column x: "NaN" is NaN'],
    ['Infinity', `${header}1,2,3\n4,5,-Infinity\n`, 'SAMPLES_INVALID', '/rows/2/z', 'line 3, column z: "-Infinity" is infinite'],
    [
      'a float32 overflow',
      `${header}1,2,3\n4,5,1e39\n`,
      'SAMPLES_INVALID',
      '/rows/2/z',
      'line 3, column z: "1e39" is outside the float32 range',
    ],
    ['a duplicate header', 'x,x\n1,2\n', 'SAMPLES_INVALID', '/header/2', 'header column 2 repeats the name "x"'],
    ['no data rows', header, 'SAMPLES_EMPTY', 'body', 'the CSV has a header but no data rows'],
    ['fewer samples than one window', `${header}${good(30)}\n`, 'SAMPLES_TOO_FEW', 'body', '30 samples; one window needs 50'],
    [
      'too many channels',
      `${Array.from({ length: 65 }, (_, i) => `c${i}`).join(',')}\n${'1,'.repeat(64)}1\n`,
      'SAMPLES_TOO_MANY',
      '/header',
      '65 channels exceeds the limit of 64',
    ],
  ])('CSV with %s', async (_, csv, code, field, message) => {
    const error = await refused(enrol(csv, 'text/csv'), 422, code);
    expect(error.details?.[0]).toEqual({ field, message });
  });

  it('CSV without a rate or a t column, and with a t column that goes back in time', async () => {
    expect((await refused(enrol(`${header}${good(60)}\n`, 'text/csv', ''), 422, 'SAMPLES_INVALID')).details?.[0]?.field).toBe(
      'query.rate',
    );
    const backwards = `t,x\n0,1\n50,2\n40,3\n${Array.from({ length: 60 }, (_, i) => `${100 + i * 50},1`).join('\n')}\n`;
    expect((await refused(enrol(backwards, 'text/csv', ''), 422, 'SAMPLES_INVALID')).message).toMatch(
      /time 40 ms does not increase/,
    );
    const contradicted = `t,x\n${Array.from({ length: 60 }, (_, i) => `${i * 10},1`).join('\n')}\n`;
    expect((await refused(enrol(contradicted, 'text/csv', 'rate=20'), 422, 'SAMPLES_INVALID')).message).toMatch(
      /t column implies 100\.00 Hz/,
    );
  });

  it('JSON: malformed (400), bad envelope, ragged rows, a rate that contradicts the query', async () => {
    await refused(enrol('{"rate": 20,', 'application/json', ''), 400, 'JSON_MALFORMED');
    const envelope = await refused(
      enrol(JSON.stringify({ rate: 20, channels: ['x'] }), 'application/json', ''),
      422,
      'SAMPLES_INVALID',
    );
    expect(envelope.message).toMatch(/samples/);
    const ragged = await refused(
      enrol(JSON.stringify({ rate: 20, channels: ['x', 'y'], samples: [[1, 2], [3]] }), 'application/json', ''),
      422,
      'SAMPLES_INVALID',
    );
    expect(ragged.details?.[0]?.field).toBe('/samples/1');
    const contradicted = await refused(enrol(toJson(slice(walk, 0, 100)), 'application/json', 'rate=50'), 422, 'SAMPLES_INVALID');
    expect(contradicted.message).toMatch(/contradicts the body's rate 20 Hz/);
  });

  it('binary frames: truncated, out of sequence, no rate to infer, channel names that do not fit', async () => {
    const frames = toFrames(slice(walk, 0, 100));
    const octet = 'application/octet-stream';
    expect((await refused(enrol(frames.subarray(0, frames.length - 5), octet), 422, 'SAMPLES_INVALID')).details?.[0]?.field).toBe(
      '/frames/3',
    );
    const gap = Buffer.concat([toFrames(slice(walk, 0, 50)), toFrames(slice(walk, 50, 100), 25, { seqFrom: 5 })]);
    expect((await refused(enrol(gap, octet), 422, 'SAMPLES_INVALID')).message).toMatch(/frame 2 has sequence 5, expected 2/);
    const single = encodeFrame({ stream: 1, seq: 0, timestamp: 0, channels: 3, values: Array.from(slice(walk, 0, 60).data) });
    expect((await refused(enrol(single, octet, ''), 422, 'SAMPLES_INVALID')).details?.[0]?.field).toBe('query.rate');
    expect((await refused(enrol(frames, octet, 'rate=20&channels=x,y'), 422, 'SAMPLES_INVALID')).details?.[0]?.field).toBe(
      'query.channels',
    );
    expect((await refused(enrol(frames, octet, 'rate=20&kind=features'), 422, 'SAMPLES_INVALID')).message).toMatch(
      /frames carry samples/,
    );
    expect(
      (await refused(enrol(toCsv(slice(walk, 0, 100)), 'text/csv', 'rate=20&channels=a,b,c'), 422, 'SAMPLES_INVALID'))
        .details?.[0]?.field,
    ).toBe('query.channels');
  });
});

describe('enrolment lifecycle refusals', () => {
  it('commit with fewer than 10 windows: 422, and the enrolment stays open', async () => {
    const opened = await send<{ enrollmentId: string }>(
      gw.url,
      'POST',
      '/v1/biometrics/enrollments?rate=20&open=true',
      uploader,
      toCsv(slice(walk, 0, 100)),
      'text/csv',
    );
    expect(opened.status).toBe(202);
    const id = opened.body.enrollmentId;
    const small = await refused(
      send(gw.url, 'POST', `/v1/biometrics/enrollments/${id}/commit`, uploader),
      422,
      'ENROLLMENT_TOO_SMALL',
    );
    expect(small.message).toBe('Enrolment has 3 windows; at least 10 are needed to train a model');
    // Another rate, another channel set: not the same kind of data.
    const other = slice(walk, 100, 300);
    const rate = await refused(
      send(gw.url, 'POST', `/v1/biometrics/enrollments/${id}/uploads?rate=25`, uploader, toCsv(other), 'text/csv'),
      422,
      'SAMPLES_SPEC_MISMATCH',
    );
    expect(rate.message).toBe("Sample data does not match the model: rate is 25 Hz; this enrolment's first upload was 20 Hz");
    const renamed = toCsv(other).replace('x,y,z', 'a,b,c');
    await refused(
      send(gw.url, 'POST', `/v1/biometrics/enrollments/${id}/uploads?rate=20`, uploader, renamed, 'text/csv'),
      422,
      'SAMPLES_SPEC_MISMATCH',
    );
    const rows = await refused(
      send(gw.url, 'POST', `/v1/biometrics/enrollments/${id}/uploads?kind=features`, uploader, 'x,y,z\n1,2,3\n', 'text/csv'),
      422,
      'SAMPLES_SPEC_MISMATCH',
    );
    expect(rows.message).toMatch(/got features; this enrolment collects samples/);
    const status = await send(gw.url, 'GET', `/v1/biometrics/enrollments/${id}`, uploader);
    expect(status.body).toMatchObject({ status: 'open', uploads: 1, windows: 3 });
  });

  it('a refused one-shot upload stores nothing', async () => {
    const user = await newUser(gw.url);
    await refused(enrol(toCsv(slice(walk, 0, 40)), 'text/csv', 'rate=20', user), 422, 'SAMPLES_TOO_FEW');
    const small = await refused(enrol(toCsv(slice(walk, 0, 250)), 'text/csv', 'rate=20', user), 422, 'ENROLLMENT_TOO_SMALL');
    expect(small.message).toBe('Enrolment has 9 windows; at least 10 are needed to train a model');
    const db = gw.gateway.mongo.db;
    expect(await db.collection('enrollments').countDocuments({ userId: user.userId })).toBe(0);
    expect(await db.collection('enrollment_parts').countDocuments({ userId: user.userId })).toBe(0);
  });

  it('open enrolments never committed are swept with their samples', async () => {
    const user = await newUser(gw.url);
    const opened = await send<{ enrollmentId: string }>(
      gw.url,
      'POST',
      '/v1/biometrics/enrollments?rate=20&open=true',
      user,
      toCsv(slice(walk, 0, 100)),
      'text/csv',
    );
    expect(opened.status).toBe(202);
    const store = new EnrollmentStore(gw.gateway.mongo.db, dataCipher(gw.config));
    // Not yet abandoned: nothing happens.
    await store.sweepAbandoned(new Date(Date.now() - 60_000));
    expect((await send(gw.url, 'GET', `/v1/biometrics/enrollments/${opened.body.enrollmentId}`, user)).status).toBe(200);
    expect(await store.sweepAbandoned(new Date(Date.now() + 1_000))).toBeGreaterThanOrEqual(1);
    expect((await send(gw.url, 'GET', `/v1/biometrics/enrollments/${opened.body.enrollmentId}`, user)).status).toBe(404);
    expect(await gw.gateway.mongo.db.collection('enrollment_parts').countDocuments({ userId: user.userId })).toBe(0);
  });

  it('unknown enrolment ids are 404', async () => {
    const id = '0123456789abcdef01234567';
    await refused(send(gw.url, 'GET', `/v1/biometrics/enrollments/${id}`, uploader), 404, 'NOT_FOUND');
    await refused(send(gw.url, 'POST', `/v1/biometrics/enrollments/${id}/commit`, uploader), 404, 'NOT_FOUND');
  });

  it('an enrolment that never varies (a device lying still) fails with ENROLLMENT_TOO_UNIFORM, saying what to record', async () => {
    const still = await newUser(gw.url); // its own account: the next test reads the uploader's failure audit
    const flat = `x,y,z\n${Array.from({ length: 400 }, () => '0.1,-0.2,9.81').join('\n')}\n`;
    const reply = await send<{ enrollmentId: string }>(
      gw.url,
      'POST',
      '/v1/biometrics/enrollments?rate=20',
      still,
      flat,
      'text/csv',
    );
    expect(reply.status).toBe(202);
    const view = await settled(gw.url, still, reply.body.enrollmentId);
    expect(view, JSON.stringify(view.error)).toMatchObject({ status: 'failed', error: { code: 'ENROLLMENT_TOO_UNIFORM' } });
    expect(view.error?.message).toMatch(/features are identical in every window; record at least 10 windows while performing/);
    expect(view.modelVersion).toBeUndefined();
  });

  it('data that passes ingest but cannot train fails the job with a catalogued reason', async () => {
    // Values near the float32 limit: every cell is a valid float32, but energies overflow. A
    // modality without a physical range (motion would refuse them at ingest as implausible).
    const huge = `x,y,z\n${Array.from({ length: 400 }, (_, i) => `${i % 2 ? 3e38 : -3e38},3e38,${(i % 3) * 1e38}`).join('\n')}\n`;
    const reply = await send<{ enrollmentId: string }>(
      gw.url,
      'POST',
      '/v1/biometrics/enrollments?rate=20&modality=strain',
      uploader,
      huge,
      'text/csv',
    );
    expect(reply.status).toBe(202);
    const view = await settled(gw.url, uploader, reply.body.enrollmentId);
    expect(view, JSON.stringify(view.error)).toMatchObject({ status: 'failed', progress: 0, error: { code: 'SAMPLES_INVALID' } });
    expect(view.error?.message).toMatch(/non-finite feature/);
    expect(view.modelVersion).toBeUndefined();
    // Audited by the worker's host right after it records the failure.
    await vi.waitFor(async () => {
      const audit = await gw.gateway.mongo.db
        .collection('audit')
        .findOne({ event: 'biometric.enrolled', outcome: 'failure', userId: uploader.userId });
      expect(audit).toMatchObject({ detail: { enrollmentId: reply.body.enrollmentId, code: 'SAMPLES_INVALID' } });
    });
    // Failed is final: no more uploads, and a commit says so.
    await refused(
      send(gw.url, 'POST', `/v1/biometrics/enrollments/${reply.body.enrollmentId}/commit`, uploader),
      409,
      'ENROLLMENT_NOT_OPEN',
    );
    expect((await send(gw.url, 'GET', '/v1/biometrics/model', uploader)).status).toBe(404);
  });
});

describe('verification refusals', () => {
  let owner: User;
  beforeAll(async () => {
    owner = await newUser(gw.url);
    // Alone on this gateway: the model falls back to a one-class detector.
    const view = await enrolCsv(gw, owner, slice(walk, 0, 1200));
    expect(view.status).toBe('ready');
  });
  const verify = (body: string, query = '', user = owner) =>
    send(gw.url, 'POST', `/v1/biometrics/verify?${query}`, user, body, 'text/csv');

  it('data that does not fit the model: another rate, other channels, feature rows, one window short', async () => {
    const part = slice(walk, 1200, 1500);
    expect((await refused(verify(toCsv(part), 'rate=25'), 422, 'SAMPLES_SPEC_MISMATCH')).message).toBe(
      'Sample data does not match the model: rate is 25 Hz, the model expects 20 Hz',
    );
    await refused(verify(toCsv(part).replace('x,y,z', 'x,y,w')), 422, 'SAMPLES_SPEC_MISMATCH');
    await refused(verify(toCsv(part), 'kind=features'), 422, 'SAMPLES_SPEC_MISMATCH');
    expect((await refused(verify(toCsv(slice(walk, 1200, 1249))), 422, 'SAMPLES_TOO_FEW')).message).toBe(
      'Need at least 50 samples for one window, got 49',
    );
  });

  it('more windows than one verification may score', async () => {
    const error = await refused(verify(toCsv(slice(walk, 0, 1200))), 422, 'SAMPLES_TOO_MANY');
    expect(error.message).toBe('Too many windows: 47 exceeds the limit of 40');
  });

  it('verifications per account per minute are limited (429 with Retry-After)', async () => {
    const busy = await newUser(gw.url);
    for (let i = 0; i < 30; i++) expect((await verify('x\n1\n', '', busy)).status).toBe(404);
    const limited = await verify('x\n1\n', '', busy);
    expect(limited.status).toBe(429);
    expect(errorOf(limited).code).toBe('RATE_LIMITED');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('enrolment uploads per account per hour are limited', async () => {
    const busy = await newUser(gw.url);
    const statuses = await Promise.all(
      Array.from({ length: 60 }, () => enrol('x\n1\n', 'text/csv', 'rate=20', busy).then((r) => r.status)),
    );
    expect(new Set(statuses)).toEqual(new Set([422]));
    await refused(enrol('x\n1\n', 'text/csv', 'rate=20', busy), 429, 'RATE_LIMITED');
  });
});
