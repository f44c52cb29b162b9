import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sampleSet, type SampleSet } from '../../src/biometrics/samples.ts';
import type { TestGateway } from '../support/gateway.ts';
import { slice, toCsv, toJson, walking } from '../biometrics/support.ts';
import { A } from './fixtures/a-realtime.ts';
import { compareWithExample, shapes } from './shape.ts';
import { client, startLegacyGateway, type Client } from './support.ts';

// Dialect A's make_model / check_user replayed from its document against a running gateway:
// multipart `token` + `data` file, the real biometric pipeline behind (BullMQ training in a
// worker thread, scoring in the Piscina pool), WISDM walking recordings as the files.
let gw: TestGateway;
let api: Client;
let walk: Map<string, SampleSet>;

beforeAll(async () => {
  gw = await startLegacyGateway('a', {
    VIGIL_SCORING_THREADS: '1',
    VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR: '1000',
    VIGIL_BIOMETRIC_VERIFY_PER_MINUTE: '1000',
    VIGIL_BIOMETRIC_VERIFY_WINDOWS_PER_HOUR: '1000000',
  });
  api = client(gw.url);
  walk = await walking();
});
afterAll(() => gw.close());

let count = 0;
async function member(): Promise<string> {
  const username = `walker${++count}`;
  const created = await api.post(A.create.path, { username, password: 'gudrms12', name: 'Walker', gender: 'other', age: 30 });
  expect(created.status).toBe(200);
  const login = await api.post<{ token: string }>(A.login.path, { username, password: 'gudrms12' });
  return login.body.token;
}

function upload(path: string, token: string | undefined, file?: { text: string; name: string; type?: string }) {
  const form = new FormData();
  if (token !== undefined) form.set('token', token);
  if (file) form.set('data', new Blob([file.text], file.type ? { type: file.type } : {}), file.name);
  return fetch(gw.url + path, { method: 'POST', body: form }).then(async (res) => ({
    status: res.status,
    body: await res.json(),
  }));
}

const headerless = (samples: SampleSet) => toCsv(samples, { header: false });
const recording = (subject: string, from: number, to: number) => slice(walk.get(subject)!, from, to);

let owner: string;

describe('make_model, replayed from the document', () => {
  it('answers {"detail": "저장완료."} once the model is trained, for a CSV of bare numbers', async () => {
    // Three other members first: the cohort of the owner's discriminative model.
    for (const subject of ['1606', '1607', '1608']) {
      const token = await member();
      // A's clients send one format; a cohort is formed by data with the same channels.
      const reply = await upload(A.makeModel.path, token, {
        text: headerless(recording(subject, 0, 1500)),
        name: 'walk.csv',
        type: 'text/csv',
      });
      expect(reply).toEqual({ status: 200, body: { detail: '저장완료.' } });
    }
    owner = await member();
    const reply = await upload(A.makeModel.path, owner, { text: headerless(recording('1609', 0, 1500)), name: 'data.txt' });
    expect(reply.status).toBe(A.makeModel.response.status);
    expect(compareWithExample(reply.body, A.makeModel.response.body)).toEqual([]);
    // Stored as a core model version of the account behind the token, trained against the cohort.
    const model = await gw.gateway.mongo.db.collection('models').find({}).sort({ createdAt: -1 }).limit(1).next();
    expect(model).toMatchObject({
      version: 1,
      detector: 'logistic-cohort',
      featureSpec: { channels: ['c1', 'c2', 'c3'], rate: 20 },
    });
    expect(model?.metrics).toMatchObject({ cohortMembers: 3 });
  });
});

describe('check_user, replayed from the document', () => {
  it('the owner: {"전체 Test", "맞은 Test", "맞은 비율", "detail": "인증 성공"}', async () => {
    const reply = await upload(A.checkUser.path, owner, { text: headerless(recording('1609', 1700, 2300)), name: 'check.csv' });
    expect(reply.status).toBe(A.checkUser.success.status);
    expect(
      compareWithExample(reply.body, A.checkUser.success.body, {
        '/전체 Test': shapes.positiveInt,
        '/맞은 Test': shapes.nonNegativeInt,
        '/맞은 비율': shapes.ratio,
      }),
    ).toEqual([]);
    const body = reply.body as Record<string, number>;
    expect(body['전체 Test']).toBe(23);
    expect(body['맞은 비율']).toBeCloseTo(body['맞은 Test']! / 23, 12);
  });

  it('someone else: "인증 실패"; a JSON file works too (the format is sniffed)', async () => {
    const other = recording('1611', 1700, 2300);
    const json = toJson(sampleSet(other.rate, ['c1', 'c2', 'c3'], other.data));
    const reply = await upload(A.checkUser.path, owner, { text: json, name: 'check' });
    expect(reply.status).toBe(A.checkUser.failure.status);
    expect(
      compareWithExample(reply.body, A.checkUser.failure.body, {
        '/전체 Test': shapes.positiveInt,
        '/맞은 Test': shapes.nonNegativeInt,
        '/맞은 비율': shapes.ratio,
      }),
    ).toEqual([]);
  });

  it('answers the same for the same file', async () => {
    const file = { text: headerless(recording('1609', 1000, 1600)), name: 'again.csv' };
    const [a, b] = [await upload(A.checkUser.path, owner, file), await upload(A.checkUser.path, owner, file)];
    expect(a).toEqual(b);
  });
});

describe('make_model / check_user failures (DRF shapes, docs/legacy.md)', () => {
  it('a missing file is a field error; an unknown token is 401', async () => {
    expect(await upload(A.makeModel.path, owner)).toEqual({ status: 400, body: { data: ['이 필드는 필수 항목입니다.'] } });
    expect(await upload(A.checkUser.path, undefined, { text: '1,2,3\n', name: 'x.csv' })).toEqual({
      status: 400,
      body: { token: ['이 필드는 필수 항목입니다.'] },
    });
    const forged = await upload(A.checkUser.path, 'e4c0d0daaf2cc4ee2190a033957c1aa8c9eca9a5', { text: '1,2,3\n', name: 'x.csv' });
    expect(forged).toEqual({ status: 401, body: { detail: '토큰이 유효하지 않습니다.' } });
  });

  it('an unusable file names the problem under "data"', async () => {
    // A member without a model: replacing the owner's would need the password first (model-replace.test.ts).
    const enrolling = await member();
    const bad = await upload(A.makeModel.path, enrolling, { text: '1,2,3\n4,x,6\n', name: 'bad.csv' });
    expect(bad).toEqual({
      status: 400,
      body: { data: ['올바른 데이터 파일이 아닙니다: line 2, column c2: "x" is not a number'] },
    });
    const short = await upload(A.makeModel.path, enrolling, { text: headerless(recording('1609', 0, 30)), name: 'short.csv' });
    expect(short).toEqual({
      status: 400,
      body: { data: ['데이터가 너무 짧습니다. 최소 50개의 샘플이 필요합니다(받은 수: 30).'] },
    });
    const small = await upload(A.makeModel.path, enrolling, { text: headerless(recording('1609', 0, 200)), name: 'small.csv' });
    expect(small).toEqual({
      status: 400,
      body: { data: ['데이터가 너무 적습니다. 최소 10개의 구간이 필요합니다(받은 수: 7).'] },
    });
    const mismatch = await upload(A.checkUser.path, owner, { text: '1,2\n'.repeat(80), name: 'two.csv' });
    expect(mismatch.status).toBe(400);
    expect((mismatch.body as { data: string[] }).data[0]).toMatch(/^데이터가 저장된 모델과 맞지 않습니다: /);
  });

  it('check_user before any make_model says there is no model', async () => {
    const fresh = await member();
    const reply = await upload(A.checkUser.path, fresh, { text: headerless(recording('1609', 0, 600)), name: 'x.csv' });
    expect(reply).toEqual({ status: 404, body: { detail: '저장된 모델이 없습니다. 먼저 make_model로 데이터를 저장하세요.' } });
  });

  it('a logged-out token can no longer upload', async () => {
    const token = await member();
    expect((await api.get(A.logout.path, { Authorization: `Token ${token}` })).status).toBe(200);
    const reply = await upload(A.makeModel.path, token, { text: headerless(recording('1609', 0, 600)), name: 'x.csv' });
    expect(reply).toEqual({ status: 401, body: { detail: '토큰이 유효하지 않습니다.' } });
  });
});
