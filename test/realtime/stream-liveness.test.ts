import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STREAM_PATH, STREAM_SUBPROTOCOL } from '../../protocol/messages.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { login, startNode, type Node } from './support.ts';

// Idle timeout with automatic pings: a silent but alive client (its stack answers pings) stays;
// a peer that answers nothing is dropped. uWS' timeout granularity is 4 s.
let gw: TestGateway;
let node: Node;
const sockets: WebSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_WS_IDLE_TIMEOUT_SECONDS: '8' });
  node = await startNode(gw.config);
});
afterAll(async () => {
  for (const socket of sockets) socket.terminate();
  await node?.close();
  await gw?.close();
});

async function idleSocket(autoPong: boolean) {
  const user = await login(node);
  const ws = new WebSocket(gw.url.replace('http', 'ws') + STREAM_PATH, [STREAM_SUBPROTOCOL], {
    headers: { authorization: `Bearer ${user.accessToken}` },
    autoPong,
  });
  sockets.push(ws);
  const pings: number[] = [];
  ws.on('ping', () => pings.push(Date.now()));
  const closed = new Promise<{ code: number; at: number }>((resolve) =>
    ws.once('close', (code) => resolve({ code, at: Date.now() })),
  );
  await new Promise((resolve, reject) => {
    ws.once('message', resolve); // ready
    ws.once('error', reject);
  });
  return { ws, pings, closed, openedAt: Date.now() };
}

describe('idle timeout and pings', () => {
  it('pings a silent client and keeps it, and drops a peer that never answers', async () => {
    const [alive, dead] = await Promise.all([idleSocket(true), idleSocket(false)]);
    const gone = await Promise.race([
      dead.closed,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 20_000)),
    ]);
    expect(gone).toBeDefined();
    // uWS checks timeouts on a 4 s tick, so "8 s" means somewhere in (4 s, 12 s].
    expect(gone!.at - dead.openedAt).toBeGreaterThan(3_500);
    expect(dead.pings.length).toBeGreaterThanOrEqual(1); // it was asked, and did not answer
    // Well past any reading of the idle timeout, the answering client is still connected.
    await new Promise((resolve) => setTimeout(resolve, alive.openedAt + 14_000 - Date.now()));
    expect(alive.ws.readyState).toBe(WebSocket.OPEN);
    expect(alive.pings.length).toBeGreaterThanOrEqual(1);
  }, 40_000);
});
