import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StreamClient, refreshingTokenSource, type StreamClientEvents } from '../../protocol/client/index.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { CHANNEL_ONLY, login, startNode, type Node } from './support.ts';

// The client SDK against a real gateway, with Node's `ws` as its WebSocket. Access tokens live
// 3 s so the in-band refresh runs several times within a test.
let gw: TestGateway;
let node: Node;
const clients: StreamClient[] = [];

beforeAll(async () => {
  gw = await startTestGateway({
    ...CHANNEL_ONLY,
    VIGIL_ACCESS_TOKEN_TTL_SECONDS: '3',
    VIGIL_WS_EXPIRY_WARNING_SECONDS: '1',
    VIGIL_WS_MAX_MESSAGES_PER_SECOND: '20',
  });
  node = await startNode(gw.config);
});
afterAll(async () => {
  for (const client of clients) client.close();
  await node?.close();
  await gw?.close();
});

async function client(options: Partial<ConstructorParameters<typeof StreamClient>[0]> = {}) {
  const user = await login(node);
  const c = new StreamClient({
    url: gw.url,
    WebSocket,
    getToken: refreshingTokenSource({ baseUrl: gw.url, tokens: user }),
    reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    ...options,
  });
  clients.push(c);
  return { client: c, user };
}

function record<K extends keyof StreamClientEvents>(c: StreamClient, type: K): Array<StreamClientEvents[K]> {
  const events: Array<StreamClientEvents[K]> = [];
  c.on(type, (event) => events.push(event));
  return events;
}

describe('StreamClient', () => {
  it.each(['protocol', 'message'] as const)('connects (token by %s), streams frames and receives acks', async (auth) => {
    const { client: c, user } = await client({ auth });
    const ready = await c.connect();
    expect(ready).toMatchObject({ userId: user.userId, sessionId: user.sessionId });
    expect(c.state).toBe('ready');
    const stream = c.openStream({ rate: 50, channels: ['x', 'y', 'z'] });
    expect(stream.id).toBe(1);
    expect(stream.send([1, 2, 3, 4, 5, 6])).toBe(0);
    expect(stream.send([7, 8, 9], { ack: true })).toBe(1);
    expect(await c.once('ack')).toMatchObject({ stream: 1, seq: 1, frames: 2 });
  });

  it('refreshes in-band before expiry and stays connected across several token lifetimes', async () => {
    const { client: c } = await client();
    const closes = record(c, 'close');
    const refreshed = record(c, 'refreshed');
    const ready = await c.connect();
    await new Promise((resolve) => setTimeout(resolve, (ready.expiresAt + 4) * 1000 - Date.now()));
    expect(closes).toEqual([]);
    expect(refreshed.length).toBeGreaterThanOrEqual(2);
    expect(refreshed.at(-1)!.expiresAt).toBeGreaterThan(ready.expiresAt + 2);
    expect(c.state).toBe('ready');
  });

  it('reconnects with backoff after a reconnect-worthy close and re-declares its streams', async () => {
    const { client: c } = await client();
    await c.connect();
    const stream = c.openStream({ stream: 5, rate: 50, channels: ['x'] });
    const closes = record(c, 'close');
    const reconnecting = record(c, 'reconnecting');
    const readyAgain = new Promise<void>((resolve) => c.on('ready', () => resolve()));
    for (let i = 0; i < 30; i++) stream.send([i]); // 30 > 20 per second: the server closes with 4002
    await readyAgain;
    expect(closes[0]).toEqual({ code: 4002, reason: 'STREAM_RATE_EXCEEDED', willReconnect: true });
    expect(reconnecting[0]).toMatchObject({ attempt: 1 });
    expect(reconnecting[0]!.delayMs).toBeLessThanOrEqual(50);
    // The stream was re-opened on the new socket; its numbering continues.
    const seq = stream.send([1], { ack: true });
    expect(await c.once('ack')).toMatchObject({ stream: 5, seq, frames: 1 });
  });

  it('drops a refresh whose socket closed while its token was fetched, leaving no waiter to reject later', async () => {
    const user = await login(node);
    const source = refreshingTokenSource({ baseUrl: gw.url, tokens: user });
    let hold: Promise<void> | undefined;
    const c = new StreamClient({
      url: gw.url,
      WebSocket,
      getToken: async () => {
        await hold;
        return source();
      },
      reconnect: { initialDelayMs: 50, maxDelayMs: 200 },
    });
    clients.push(c);
    const unobserved: unknown[] = [];
    const onUnhandled = (reason: unknown) => unobserved.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      await c.connect();
      const stream = c.openStream({ rate: 50, channels: ['x'] });
      let release!: () => void;
      hold = new Promise((resolve) => (release = resolve));
      const refreshing = c.refresh(); // waits in getToken
      const closed = c.once('close');
      for (let i = 0; i < 30; i++) stream.send([i]); // over 20 per second: the server closes with 4002
      expect(await closed).toMatchObject({ code: 4002, willReconnect: true });
      hold = undefined;
      release();
      await refreshing; // nothing was sent: it settles without waiting for an answer
      await c.once('ready');
      const finalClose = c.once('close');
      c.close();
      await finalClose;
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unobserved).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('stays closed after a terminal close (session revoked)', async () => {
    const { client: c, user } = await client();
    await c.connect();
    const closed = c.once('close');
    await node.core.sessions.revoke(user.userId, user.sessionId, 'logout');
    expect(await closed).toEqual({ code: 4520, reason: 'TOKEN_REVOKED', willReconnect: false });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(c.state).toBe('closed');
  });

  it('rejects connect() when the first connection is refused for good', async () => {
    const c = new StreamClient({ url: gw.url, WebSocket, getToken: () => 'not-a-jwt' });
    clients.push(c);
    await expect(c.connect()).rejects.toMatchObject({ code: 4511 });
  });

  it('closes with 1000 on close() and does not come back', async () => {
    const { client: c } = await client();
    await c.connect();
    const closed = c.once('close');
    c.close();
    expect(await closed).toMatchObject({ code: 1000, willReconnect: false });
  });
});

describe('StreamClient with continuous verification on', () => {
  let verifying: TestGateway;
  let verifyingNode: Node;
  beforeAll(async () => {
    verifying = await startTestGateway();
    verifyingNode = await startNode(verifying.config);
  });
  afterAll(async () => {
    await verifyingNode?.close();
    await verifying?.close();
  });

  it('ends a stream the server refuses (a new account has no model): it emits, refuses sends and keeps the socket', async () => {
    const user = await login(verifyingNode);
    const c = new StreamClient({ url: verifying.url, WebSocket, getToken: () => user.accessToken });
    clients.push(c);
    const closes = record(c, 'close');
    const ready = await c.connect();
    expect(ready.model).toBeNull();
    const refused = c.once('stream.refused');
    const accel = c.openStream({ rate: 20, channels: ['x', 'y', 'z'] });
    expect(await refused).toMatchObject({ stream: accel.id, code: 'BIOMETRIC_MODEL_MISSING' });
    expect((await refused).message).toMatch(/enroll\.begin/);
    expect(accel.refusal).toMatchObject({ code: 'BIOMETRIC_MODEL_MISSING' });
    expect(accel.isEnded).toBe(true);
    expect(accel.send([1, 2, 3])).toBeUndefined();
    // Nothing reached the server for the refused stream, so the socket is still up.
    const pong = c.openStream({ stream: accel.id, rate: 20, channels: ['x', 'y', 'z'] });
    expect(await c.once('stream.refused')).toMatchObject({ stream: pong.id });
    expect(closes).toEqual([]);
    expect(c.state).toBe('ready');
  });
});
