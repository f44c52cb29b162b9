import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../protocol/frames.ts';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import { sampleSet, type SampleSet } from '../../src/biometrics/samples.ts';
import { slice } from '../biometrics/support.ts';
import { enrolCohort, enrolSubject, sendSamples } from '../continuous/support.ts';
import { enrolmentPart, testPart } from '../continuous/wisdm.ts';
import { TestSocket, login, startNode, type Node } from '../realtime/support.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

// The thief's cheapest biometric attack: play back the owner's own recorded motion. The model
// rightly scores it as the owner, so the score cannot catch it — but the data has been seen
// before (the enrolment, or an earlier stream), or its timestamps run ahead of the clock. Such
// windows read `replay`, treated like `impostor`. A fresh recording of the owner must not.

const OWNER = `replay-owner-${process.pid}`;
let gw: TestGateway;
let node: Node;
let enrolled: SampleSet;
let fresh: SampleSet;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_CV_POLICY_IMPOSTOR: 'notify', VIGIL_CV_BATCH_DEADLINE_MS: '2' });
  node = await startNode(gw.config);
  await enrolCohort(gw);
  await enrolSubject(gw, OWNER, '1611');
  enrolled = await enrolmentPart('1611');
  fresh = await testPart('1611');
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

/** Streams `data` on a new socket of a new session and collects every verdict. */
async function stream(
  data: SampleSet,
  options: { t0?: number; int16?: boolean } = {},
): Promise<Array<ServerMessageOf<'verdict'>>> {
  const socket = new TestSocket(gw.url, { token: (await login(node, OWNER)).accessToken });
  sockets.push(socket);
  await socket.next('ready');
  socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
  const windows = Math.floor((data.length - 50) / 25) + 1;
  if (options.int16) {
    const t0 = Date.now() - (data.length * 1000) / 20;
    for (let at = 0, seq = 0; at < data.length; at += 25, seq++) {
      const values = data.data.subarray(at * 3, Math.min(data.length, at + 25) * 3);
      socket.ws.send(
        encodeFrame({ stream: 1, seq, timestamp: t0 + at * 50, channels: 3, values, sampleType: 'int16', scale: 0.001 }),
      );
    }
  } else {
    sendSamples(socket, 1, data, 0, 25, options.t0);
  }
  const out: Array<ServerMessageOf<'verdict'>> = [];
  while (out.length < windows) out.push(await socket.until('verdict', 20_000));
  socket.close();
  return out;
}

/** `data` edited sample by sample (a copy). */
function edited(data: SampleSet, edit: (value: number, i: number) => number): SampleSet {
  return sampleSet(data.rate, data.channels, data.data.map(edit));
}

/** Uniform noise in ±amplitude from a fixed seed: the same edit on every run. */
function noise(amplitude: number): (value: number) => number {
  let state = 42;
  return (value) => {
    state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0;
    return value + ((state / 2 ** 32) * 2 - 1) * amplitude;
  };
}

const share = (verdicts: Array<ServerMessageOf<'verdict'>>) =>
  verdicts.filter((v) => v.decision === 'replay').length / verdicts.length;

describe('replay detection', () => {
  it("the owner's enrolment recording played back over the socket reads `replay`, trust at the floor", async () => {
    const verdicts = await stream(slice(enrolled, 300, 700));
    expect(share(verdicts)).toBeGreaterThanOrEqual(0.8);
    expect(verdicts.find((v) => v.decision === 'replay')!.trust).toBe(-6);
  });

  it('re-encoded (int16 frames, values rounded to 0.001) it is still caught', async () => {
    expect(share(await stream(slice(enrolled, 800, 1_200), { int16: true }))).toBeGreaterThanOrEqual(0.8);
  });

  it('edited a little it is still caught: every value shifted by +0.025, or noised by ±0.05', async () => {
    // Exact fingerprints of values rounded to 0.05 missed both: half a step moves every value to the next bin.
    expect(share(await stream(edited(slice(enrolled, 0, 300), (v) => v + 0.025)))).toBeGreaterThanOrEqual(0.8);
    expect(share(await stream(edited(slice(enrolled, 300, 700), noise(0.05))))).toBeGreaterThanOrEqual(0.8);
  });

  it('a fresh recording of the owner is not flagged; the same stream sent again later is', async () => {
    const recording = slice(fresh, 0, 500);
    const first = await stream(recording);
    expect(first.map((v) => v.decision)).not.toContain('replay');
    expect(first.at(-1)!.decision).toBe('genuine');
    expect(share(await stream(recording))).toBeGreaterThanOrEqual(0.8);
  });

  it('an earlier stream comes back offset per axis and noised by ±0.1, and is caught', async () => {
    // Someone's walk this account streamed once (not the owner's: the owner's fresh walk is used up above).
    const recording = slice(await testPart('1616'), 0, 400);
    expect((await stream(recording)).map((v) => v.decision)).not.toContain('replay');
    const offsets = [0.7, -0.4, 0.9];
    const add = noise(0.1);
    expect(share(await stream(edited(recording, (v, i) => add(v + offsets[i % 3]!))))).toBeGreaterThanOrEqual(0.8);
  });

  it('samples whose timestamps run ahead of their arrival are a replay too', async () => {
    // Never sent before, but 25 s of samples arrive at once stamped from now on: read from a file.
    const verdicts = await stream(slice(fresh, 500, 1_000), { t0: Date.now() });
    expect(share(verdicts)).toBeGreaterThanOrEqual(0.8);
  });
});
