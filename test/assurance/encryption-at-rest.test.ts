import { BSON } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import type { TestGateway } from '../support/gateway.ts';
import { enrolCsv, newUser, send, slice, startBiometricGateway, walking } from '../biometrics/support.ts';

// Someone who reads the database (a backup, a dump, a misconfigured replica) must find no
// biometric data in it: enrolment samples, model graphs and detector parameters are sealed with
// AES-256-GCM under VIGIL_BIOMETRIC_KEYS, and a deletion leaves nothing behind.

let gw: TestGateway;
let recording: SampleSet;

beforeAll(async () => {
  gw = await startBiometricGateway();
  recording = slice((await walking()).get('1605')!, 0, 1_200);
}, 60_000);

afterAll(() => gw?.close());

/** Every raw document of a collection as the bytes MongoDB holds. */
async function rawDocuments(collection: string, userId: string): Promise<Buffer[]> {
  const docs = await gw.gateway.mongo.db.collection(collection).find({ userId }).toArray();
  return docs.map((doc) => Buffer.from(BSON.serialize(doc)));
}

/** The recording's samples as stored in plaintext: runs of eight float32 values. */
function plaintextRuns(samples: SampleSet): Buffer[] {
  const bytes = Buffer.from(samples.data.buffer, samples.data.byteOffset, samples.data.byteLength);
  const runs: Buffer[] = [];
  for (let at = 0; at + 32 <= bytes.length; at += 32 * 11) runs.push(bytes.subarray(at, at + 32));
  return runs;
}

describe('biometric data at rest', () => {
  it('raw MongoDB documents hold no plaintext samples, model graph or parameters', async () => {
    const user = await newUser(gw.url);
    const view = await enrolCsv(gw, user, recording);
    expect(view.status).toBe('ready');

    const parts = await rawDocuments('enrollment_parts', user.userId);
    expect(parts.length).toBeGreaterThan(0);
    const runs = plaintextRuns(recording);
    expect(runs.length).toBeGreaterThan(20);
    for (const doc of parts) for (const run of runs) expect(doc.includes(run)).toBe(false);
    const stored = await gw.gateway.mongo.db.collection('enrollment_parts').find({ userId: user.userId }).toArray();
    expect(stored.every((p) => p.keyId === 'test-1')).toBe(true);

    const row = await gw.gateway.mongo.db.collection('models').findOne({ userId: user.userId });
    expect(row).not.toBeNull();
    // An ONNX graph names its producer and operators in clear bytes; sealed, none is readable.
    const graph = Buffer.from(BSON.serialize({ onnx: row!.onnx, params: row!.params }));
    for (const word of ['vigil', 'MatMul', 'Sub', 'Div']) expect(graph.includes(Buffer.from(word)), word).toBe(false);
    expect(row!.keyId).toBe('test-1');

    // And the gateway still verifies with what it sealed.
    const verified = await send(gw.url, 'POST', '/v1/biometrics/verify', user, toCsvOf(slice(recording, 0, 400)), 'text/csv');
    expect(verified.status).toBe(200);
  });

  it('deleting the model erases samples and models; nothing of the account stays behind', async () => {
    const user = await newUser(gw.url);
    await enrolCsv(gw, user, recording);
    expect((await send(gw.url, 'DELETE', '/v1/biometrics/model', user)).status).toBe(200);
    for (const collection of ['enrollments', 'enrollment_parts', 'models']) {
      expect(await gw.gateway.mongo.db.collection(collection).countDocuments({ userId: user.userId }), collection).toBe(0);
    }
  });
});

function toCsvOf(samples: SampleSet): string {
  const rows = ['x,y,z'];
  for (let r = 0; r < samples.length; r++) rows.push(Array.from(samples.data.subarray(r * 3, r * 3 + 3)).join(','));
  return `${rows.join('\n')}\n`;
}
