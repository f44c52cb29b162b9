import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerMessageOf } from '../../protocol/messages.ts';
import { sampleSet } from '../../src/biometrics/samples.ts';
import { enrolSubject, sendSamples, verdicts } from '../continuous/support.ts';
import { TestSocket, login, startNode, type Node } from '../realtime/support.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

// A thief with a copy of the session's token needs none of the owner's data: loud random motion,
// far outside anything the model was trained on, must not read as the owner.

const OWNER = `noise-owner-${process.pid}`;
let gw: TestGateway;
let node: Node;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_CV_POLICY_IMPOSTOR: 'notify', VIGIL_CV_BATCH_DEADLINE_MS: '2' });
  node = await startNode(gw.config);
  for (const subject of ['1600', '1601', '1602']) await enrolSubject(gw, `cohort-${subject}-${process.pid}`, subject);
  await enrolSubject(gw, OWNER, '1611');
}, 240_000);

afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

describe('an impostor without the owner’s data', () => {
  it('uniform noise of ±20 m/s² streamed on the owner’s session never reads genuine', async () => {
    const socket = new TestSocket(gw.url, { token: (await login(node, OWNER)).accessToken });
    sockets.push(socket);
    await socket.next('ready');
    socket.sendJson({ type: 'stream.open', stream: 1, rate: 20, channels: ['x', 'y', 'z'] });
    let state = 1;
    const noise = () => ((state = (Math.imul(state, 1_103_515_245) + 12_345) >>> 0) / 2 ** 32) * 40 - 20;
    const samples = 400; // 15 windows of 2.5 s, hop 1.25 s
    sendSamples(socket, 1, sampleSet(20, ['x', 'y', 'z'], Float32Array.from({ length: samples * 3 }, noise)), 0);
    const seen: Array<ServerMessageOf<'verdict'>> = await verdicts(socket, 15);
    console.log(seen.map((v) => `${v.decision} ${v.trust}`).join(', '));
    expect(seen.filter((v) => v.decision === 'genuine')).toEqual([]);
  });
});
