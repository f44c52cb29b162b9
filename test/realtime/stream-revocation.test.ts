import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS } from '../../protocol/errors.ts';
import { spawnGateway, startTestGateway, type GatewayProcess, type TestGateway } from '../support/gateway.ts';
import { TestSocket, closedWithin, login, startNode, type Node } from './support.ts';

// Two gateway processes over the same Redis and Mongo: this test's in-process gateway and a real
// child process (`src/main.ts`). A logout on one must close live sockets on both within 1 s.
let gw: TestGateway;
let child: GatewayProcess;
let node: Node;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_WS_MAX_CONNECTIONS_PER_USER: '2' });
  node = await startNode(gw.config);
  child = await spawnGateway(gw.config);
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  if (child && child.child.exitCode === null) {
    child.child.kill('SIGTERM');
    await child.exited;
  }
  await node?.close();
  await gw?.close();
});

function open(url: string, token: string): TestSocket {
  const socket = new TestSocket(url, { token });
  sockets.push(socket);
  return socket;
}

async function logout(accessToken: string): Promise<number> {
  const res = await fetch(`${gw.url}/v1/sessions/current`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${accessToken}` },
  });
  expect(res.status).toBe(200);
  return Date.now();
}

async function expectRevokedWithin(socket: TestSocket, since: number, ms: number): Promise<void> {
  const closed = await closedWithin(socket, ms);
  expect(Date.now() - since).toBeLessThan(ms);
  expect(closed).toEqual({ code: ERRORS.TOKEN_REVOKED.close, reason: 'TOKEN_REVOKED' });
}

describe('instant revocation', () => {
  it('closes the live socket within 1 s of a logout over HTTP', async () => {
    const user = await login(node);
    const socket = open(gw.url, user.accessToken);
    await socket.next('ready');
    const loggedOutAt = await logout(user.accessToken);
    expect((await socket.next('bye')).code).toBe('TOKEN_REVOKED');
    await expectRevokedWithin(socket, loggedOutAt, 1_000);
  });

  it('closes a socket living in a second gateway process within 1 s', async () => {
    const user = await login(node);
    const remote = open(child.url, user.accessToken);
    const local = open(gw.url, user.accessToken);
    expect((await remote.next('ready')).sessionId).toBe(user.sessionId);
    await local.next('ready');
    const loggedOutAt = await logout(user.accessToken);
    await Promise.all([expectRevokedWithin(remote, loggedOutAt, 1_000), expectRevokedWithin(local, loggedOutAt, 1_000)]);
  });

  it('closes only the revoked session’s sockets', async () => {
    const user = await login(node);
    const phone = await login(node, user.userId); // same user, another session
    const revoked = open(child.url, user.accessToken);
    const kept = open(child.url, phone.accessToken);
    await revoked.next('ready');
    await kept.next('ready');
    const at = Date.now();
    await node.core.sessions.revoke(user.userId, user.sessionId, 'revoked');
    await expectRevokedWithin(revoked, at, 1_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(kept.ws.readyState).toBe(kept.ws.OPEN);
  });

  it('closes every socket of the user when all sessions are revoked (password change)', async () => {
    const a = await login(node);
    const b = await login(node, a.userId);
    const first = open(gw.url, a.accessToken);
    const second = open(child.url, b.accessToken);
    await first.next('ready');
    await second.next('ready');
    const at = Date.now();
    await node.core.sessions.revokeAllForUser(a.userId, { reason: 'password_changed' });
    await Promise.all([expectRevokedWithin(first, at, 1_000), expectRevokedWithin(second, at, 1_000)]);
  });
});

describe('per-user connection limit across processes', () => {
  it('closes the connection over VIGIL_WS_MAX_CONNECTIONS_PER_USER with 4001, wherever the others live', async () => {
    const user = await login(node);
    const first = open(gw.url, user.accessToken);
    const second = open(child.url, user.accessToken);
    await first.next('ready');
    await second.next('ready');

    const third = open(gw.url, user.accessToken);
    expect(await third.next('bye')).toMatchObject({ code: 'STREAM_TOO_MANY_CONNECTIONS', close: 4001 });
    expect(await closedWithin(third, 5_000)).toEqual({ code: 4001, reason: 'STREAM_TOO_MANY_CONNECTIONS' });

    // Another user is not affected; a freed slot can be taken again.
    const other = await login(node);
    await open(child.url, other.accessToken).next('ready');
    second.close();
    await second.closed;
    await new Promise((resolve) => setTimeout(resolve, 100)); // the release is one Redis call
    await open(gw.url, user.accessToken).next('ready');
  });
});

describe('shutdown', () => {
  it('closes live sockets with 1001 when the process stops', async () => {
    const user = await login(node);
    const socket = open(child.url, user.accessToken);
    await socket.next('ready');
    child.child.kill('SIGTERM');
    expect((await closedWithin(socket, 5_000)).code).toBe(1001);
    expect(await child.exited).toBe(0);
  });
});
