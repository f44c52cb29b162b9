import { ScoringFaults } from '../../src/biometrics/scoring-faults.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import type { SampleSet } from '../../src/biometrics/samples.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { TestSocket, login, startNode, type Node } from '../realtime/support.ts';
import { biometricsOf, enrolSubject, eventually, expectedFor, sendSamples } from './support.ts';
import { testPart } from './wisdm.ts';

// Scoring workers that die or hang under live streams: a crashed worker is replaced and its
// batch re-run (every window still gets its verdict); a batch that cannot be scored is reported
// to each client window by window, and verification goes on with the next windows.

const OWNER = `faults-owner-${process.pid}`;
let gw: TestGateway;
let node: Node;
let data: SampleSet;
const sockets: TestSocket[] = [];

/** Faults planted in the gateway's scoring pool: its next task is the next socket batch. */
const faults = new ScoringFaults();

beforeAll(async () => {
  gw = await startTestGateway(
    {
      // Long enough for a replacement thread to load onnxruntime on a loaded CI machine (the re-run
      // batch must not time out), short enough for the hung batch's test.
      VIGIL_SCORING_TIMEOUT_MS: '4000',
      VIGIL_CV_BATCH_DEADLINE_MS: '20',
      // Both tests stream the same held-out recording: a replay by design here.
      VIGIL_CV_REPLAY_DETECTION: 'false',
    },
    { scoringFaults: faults },
  );
  node = await startNode(gw.config);
  await enrolSubject(gw, OWNER, '1611');
  data = await testPart('1611');
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

async function streamingSocket(): Promise<TestSocket> {
  const socket = new TestSocket(gw.url, { token: (await login(node, OWNER)).accessToken });
  sockets.push(socket);
  await socket.next('ready');
  socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
  return socket;
}

const ofType = <T extends ServerMessageOf<'verdict' | 'error'>['type']>(socket: TestSocket, type: T) =>
  socket.messages.filter((m): m is ServerMessageOf<T> => m.type === type);

describe('scoring worker faults under live streams', () => {
  it('replaces a worker that crashes mid-batch and re-runs the batch: no window is lost', async () => {
    const pool = biometricsOf(gw).pool;
    const retried = pool.stats.retriedTasks;
    const socket = await streamingSocket();
    // The next batch's worker calls process.exit() while holding it.
    faults.inject('exit');
    sendSamples(socket, 1, data, 0);
    const windows = Math.floor((data.length - 50) / 25) + 1;
    await eventually(() => ofType(socket, 'verdict').length === windows, `${windows} verdicts`, 20_000);
    expect(ofType(socket, 'verdict').map((v) => v.window)).toEqual(Array.from({ length: windows }, (_, w) => w));
    expect(ofType(socket, 'error')).toEqual([]);
    expect(pool.stats.retriedTasks).toBe(retried + 1);
    expect(pool.stats.threads).toBeGreaterThanOrEqual(1);
    // The re-run scored exactly what the model scores.
    const expected = await expectedFor(gw, OWNER, data);
    expect(ofType(socket, 'verdict').map((v) => v.decision)).toEqual(expected.trust.map((t) => t.decision));
  });

  it('reports each window of a batch that times out, then keeps verifying the following windows', async () => {
    const socket = await streamingSocket();
    const first = { ...data, data: data.data.subarray(0, 100 * 3), length: 100 }; // windows 0–2
    faults.inject('hang');
    const seq = sendSamples(socket, 1, first, 0);
    // The hung batch fails with SCORING_TIMEOUT after 4 s: one error per window, naming it.
    await eventually(() => ofType(socket, 'error').length === 3, 'three window errors', 15_000);
    const errors = ofType(socket, 'error');
    expect(errors.map((e) => e.code)).toEqual(['SCORING_TIMEOUT', 'SCORING_TIMEOUT', 'SCORING_TIMEOUT']);
    expect(errors.map((e) => e.details?.[0]?.field)).toEqual(['/windows/0', '/windows/1', '/windows/2']);
    expect(errors.every((e) => e.ref === 'verdict' && e.stream === 1)).toBe(true);
    expect(ofType(socket, 'verdict')).toEqual([]);
    // The worker was replaced; the stream goes on with window 3.
    const rest = { ...data, data: data.data.subarray(100 * 3, 200 * 3), length: 100 };
    sendSamples(socket, 1, rest, seq);
    await eventually(() => ofType(socket, 'verdict').length === 4, 'the next verdicts', 10_000);
    expect(ofType(socket, 'verdict').map((v) => v.window)).toEqual([3, 4, 5, 6]);
    // Missing windows are not evidence: trust moved only on the four scored windows.
    expect(ofType(socket, 'verdict')[0]!.trust).toBeGreaterThan(-2.01);
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(Number(/^vigil_cv_windows_total\{outcome="failed"\} (\d+)/m.exec(text)?.[1])).toBeGreaterThanOrEqual(3);
  });
});
