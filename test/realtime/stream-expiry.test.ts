import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../protocol/errors.ts';
import { encodeFrame } from '../../protocol/frames.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { CHANNEL_ONLY, TestSocket, closedWithin, login, startNode, type Node } from './support.ts';

// Access tokens live 3 s here (so 2–3 s after issue, exp being whole seconds); the socket warns
// 1 s before. The wheel fires up to 250 ms late, never early.
let gw: TestGateway;
let node: Node;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ ...CHANNEL_ONLY, VIGIL_ACCESS_TOKEN_TTL_SECONDS: '3', VIGIL_WS_EXPIRY_WARNING_SECONDS: '1' });
  node = await startNode(gw.config);
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

async function refreshOverHttp(
  refreshToken: string,
): Promise<{ accessToken: string; refreshToken: string; accessTokenExpiresAt: number }> {
  const res = await fetch(`${gw.url}/v1/sessions/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken }),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as { accessToken: string; refreshToken: string; accessTokenExpiresAt: number };
}

describe('access token expiry on a live socket', () => {
  it('warns with expiring, then closes with TOKEN_EXPIRED at expiry', async () => {
    const user = await login(node);
    const socket = new TestSocket(gw.url, { token: user.accessToken });
    sockets.push(socket);
    const ready = await socket.next('ready');
    const expiresAtMs = ready.expiresAt * 1000;

    const expiring = await socket.next('expiring', 4_000);
    const warnedAt = Date.now();
    expect(expiring).toEqual({ type: 'expiring', expiresAt: ready.expiresAt, secondsLeft: expect.any(Number) });
    expect(expiring.secondsLeft).toBeLessThanOrEqual(1);
    expect(warnedAt).toBeGreaterThanOrEqual(expiresAtMs - 1_000);
    expect(warnedAt).toBeLessThan(expiresAtMs);

    expect(await socket.next('bye', 3_000)).toMatchObject({ code: 'TOKEN_EXPIRED', close: ERRORS.TOKEN_EXPIRED.close });
    const closed = await closedWithin(socket, 1_000);
    const closedAt = Date.now();
    expect(closed).toEqual({ code: ERRORS.TOKEN_EXPIRED.close, reason: 'TOKEN_EXPIRED' });
    expect(closedAt).toBeGreaterThanOrEqual(expiresAtMs);
    expect(closedAt).toBeLessThan(expiresAtMs + 1_000);
  });

  it('stays open past the original expiry after an in-band refresh', async () => {
    const user = await login(node);
    const socket = new TestSocket(gw.url, { token: user.accessToken });
    sockets.push(socket);
    const ready = await socket.next('ready');
    await socket.next('expiring', 4_000);

    // What a client does on `expiring`: refresh over HTTP, hand the new token to the socket.
    const pair = await refreshOverHttp(user.refreshToken);
    expect(pair.accessTokenExpiresAt).toBeGreaterThan(ready.expiresAt);
    socket.sendJson({ type: 'refresh', token: pair.accessToken });
    expect(await socket.next('refreshed')).toEqual({ type: 'refreshed', expiresAt: pair.accessTokenExpiresAt });

    // Past the first token's expiry (plus the wheel's slack) the socket still streams.
    await new Promise((resolve) => setTimeout(resolve, ready.expiresAt * 1000 + 600 - Date.now()));
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
    socket.sendJson({ type: 'stream.open', stream: 1, rate: 10, channels: ['x'] });
    socket.ws.send(encodeFrame({ stream: 1, seq: 0, timestamp: Date.now(), channels: 1, values: [1], ackRequested: true }));
    expect(await socket.until('ack')).toMatchObject({ stream: 1, seq: 0 });

    // And the new token's own expiry still ends it, with a fresh warning first.
    await socket.until('expiring', 4_000);
    expect((await socket.next('bye', 3_000)).code).toBe('TOKEN_EXPIRED');
  });

  it('warns at once, and once, when the token is already inside the warning window', async () => {
    const user = await login(node);
    const short = await node.core.accessTokens.issue(user.userId, user.sessionId, Math.floor(Date.now() / 1000) + 1);
    const socket = new TestSocket(gw.url, { token: short.token });
    sockets.push(socket);
    await socket.next('ready');
    expect(await socket.next('expiring', 500)).toMatchObject({ expiresAt: short.expiresAt });
    // Handing back the same token does not start a warning loop.
    socket.sendJson({ type: 'refresh', token: short.token });
    expect(await socket.next('refreshed')).toEqual({ type: 'refreshed', expiresAt: short.expiresAt });
    expect((await socket.next('bye', 2_000)).code).toBe('TOKEN_EXPIRED');
  });

  it('answers a refresh it cannot accept with an error and keeps the socket', async () => {
    const user = await login(node);
    const other = await login(node);
    const socket = new TestSocket(gw.url, { token: user.accessToken });
    sockets.push(socket);
    await socket.next('ready');

    socket.sendJson({ type: 'refresh', token: other.accessToken });
    expect(await socket.next('error')).toMatchObject({
      code: 'STREAM_REFUSED',
      ref: 'refresh',
      message: expect.stringMatching(/another session/),
    });
    socket.sendJson({ type: 'refresh', token: 'garbage' });
    expect(await socket.next('error')).toMatchObject({ code: 'TOKEN_MALFORMED', ref: 'refresh' });
    expect(socket.ws.readyState).toBe(socket.ws.OPEN);
  });
});
