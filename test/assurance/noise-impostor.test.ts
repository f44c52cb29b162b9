import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import { sampleSet, type SampleSet } from '../../src/biometrics/samples.ts';
import { send, slice, toCsv } from '../biometrics/support.ts';
import { enrolCohort, enrolSubject, sendSamples, verdicts } from '../continuous/support.ts';
import { testPart } from '../continuous/wisdm.ts';
import { TestSocket, login, startNode, type Node } from '../realtime/support.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

// A thief with a copy of the session's token needs none of the owner's data: loud random motion,
// far outside anything the model was trained on, must not read as the owner. The linear model
// extrapolates such windows onto the owner's side; the novelty gate counts them as evidence against.

const OWNER = `noise-owner-${process.pid}`;
let gw: TestGateway;
let node: Node;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_CV_POLICY_IMPOSTOR: 'notify', VIGIL_CV_BATCH_DEADLINE_MS: '2' });
  node = await startNode(gw.config);
  await enrolCohort(gw);
  await enrolSubject(gw, OWNER, '1611');
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

function noise(amplitude: number, samples: number): SampleSet {
  let state = 1;
  const next = () => ((state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32) * 2 * amplitude - amplitude;
  return sampleSet(20, ['x', 'y', 'z'], Float32Array.from({ length: samples * 3 }, next));
}

async function novelWindows(): Promise<number> {
  const text = await (await fetch(`${gw.url}/metrics`)).text();
  return Number(/^vigil_cv_windows_novel_total (\d+)/m.exec(text)?.[1] ?? 0);
}

/** 15 windows (2.5 s, hop 1.25 s) of `data` on a fresh session of the owner. */
async function streamed(data: SampleSet): Promise<Array<ServerMessageOf<'verdict'>>> {
  const socket = new TestSocket(gw.url, { token: (await login(node, OWNER)).accessToken });
  sockets.push(socket);
  await socket.next('ready');
  socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
  sendSamples(socket, 1, data, 0);
  return verdicts(socket, 15);
}

describe('an impostor without the owner’s data', () => {
  it('uniform noise of ±20 m/s² streamed on the owner’s session reads impostor, never genuine', async () => {
    const novelBefore = await novelWindows();
    const seen = await streamed(noise(20, 400));
    expect(seen.filter((v) => v.decision === 'genuine')).toEqual([]);
    expect(seen.at(-1)!.decision).toBe('impostor');
    // The verdict stays schema-valid: a gated window carries a finite score, not NaN.
    expect(seen.every((v) => Number.isFinite(v.score))).toBe(true);
    // Operators see the gate fire.
    expect((await novelWindows()) - novelBefore).toBeGreaterThanOrEqual(10);
  });

  it('the HTTP verify route rejects the same noise: no window accepted', async () => {
    const { accessToken } = await login(node, OWNER);
    const user = { userId: OWNER, token: accessToken, headers: { authorization: `Bearer ${accessToken}` } };
    const reply = await send<Record<string, unknown>>(
      gw.url,
      'POST',
      '/v1/biometrics/verify',
      user,
      toCsv(noise(20, 400)),
      'text/csv',
    );
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ total: 15, accepted: 0, ratio: 0, verdict: 'reject' });
  });

  it('the owner’s own fresh walk still reads genuine', async () => {
    const seen = await streamed(slice(await testPart('1611'), 0, 400));
    expect(seen.filter((v) => v.decision === 'impostor')).toEqual([]);
    expect(seen.at(-1)!.decision).toBe('genuine');
  });
});
