import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { STREAM_PATH, STREAM_SUBPROTOCOL } from '../../protocol/messages.ts';
import type { GatewayProcess } from '../support/gateway.ts';
import { logIn, signUpMember, type Member } from './support/accounts.ts';
import { eventually, sleep, startCluster, type Cluster } from './support/cluster.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

// One gateway cut off from Redis (a network partition: its connections drop, nothing gets
// through) while another gateway, still connected, revokes sessions. The revocations are
// published on Redis pub/sub, which the cut-off gateway cannot hear. Expected: while cut off it
// answers requests that need Redis with a catalogued 503 and keeps its sockets open; once the
// partition heals it resynchronises by itself — a socket of a session revoked meanwhile is closed
// with TOKEN_REVOKED, the session's cached token is refused — and sockets of live sessions stay.
let cluster: Cluster;
let proxy: TcpProxy;
let cutOff: GatewayProcess;
let connected: GatewayProcess;
let member: Member;

beforeAll(async () => {
  cluster = await startCluster({ gateways: 0, workers: 0, env: { VIGIL_CV_ENABLED: 'false' } });
  const redis = new URL(cluster.redis.url);
  proxy = await startTcpProxy({ host: redis.hostname, port: Number(redis.port) });
  cutOff = await cluster.addGateway({ REDIS_URL: proxy.url(cluster.redis.url) });
  connected = await cluster.addGateway();
  member = await signUpMember(connected.url, 'pt');
}, 60_000);

afterAll(async () => {
  await proxy?.close();
  await cluster?.close();
});

function openSocket(url: string, token: string): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }> }> {
  const ws = new WebSocket(url.replace(/^http/, 'ws') + STREAM_PATH, [STREAM_SUBPROTOCOL], {
    headers: { authorization: `Bearer ${token}` },
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return new Promise((resolve, reject) => {
    ws.once('message', () => resolve({ ws, closed }));
    ws.once('error', reject);
  });
}

const me = (url: string, token: string) => fetch(`${url}/v1/accounts/me`, { headers: { authorization: `Bearer ${token}` } });

describe('a revocation a partitioned gateway could not hear', () => {
  it('is enforced once the partition heals: its socket closed with TOKEN_REVOKED, its cached token refused; live sessions keep their sockets', async () => {
    const revoked = await logIn(connected.url, member.username, member.password);
    const kept = await logIn(connected.url, member.username, member.password);
    const doomed = await openSocket(cutOff.url, revoked.accessToken);
    const survivor = await openSocket(cutOff.url, kept.accessToken);
    // Warm the cut-off gateway's verified-token cache for the session about to be revoked.
    expect((await me(cutOff.url, revoked.accessToken)).status).toBe(200);

    proxy.cut();
    await sleep(500);
    // Cut off: what needs Redis fails fast with the catalogued 503; the sockets stay open.
    const during = await fetch(`${cutOff.url}/v1/tokens/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: revoked.accessToken }),
    });
    expect(during.status).toBe(503);
    expect(((await during.json()) as { error: { code: string } }).error.code).toBe('DEPENDENCY_UNAVAILABLE');
    // The connected gateway ends the session; the message is published where the other cannot hear it.
    expect(
      (
        await fetch(`${connected.url}/v1/sessions/${revoked.sessionId}`, {
          method: 'DELETE',
          headers: { authorization: `Bearer ${kept.accessToken}` },
        })
      ).status,
    ).toBe(200);
    await sleep(1_500);
    expect(doomed.ws.readyState).toBe(WebSocket.OPEN);

    proxy.restore();
    const healed = Date.now();
    const close = await Promise.race([doomed.closed, sleep(10_000).then(() => undefined)]);
    expect(close).toEqual({ code: 4520, reason: 'TOKEN_REVOKED' });
    console.info(`revoked socket closed ${Date.now() - healed} ms after the partition healed`);
    await eventually(async () => (await me(cutOff.url, revoked.accessToken)).status === 401, 5_000, 'the cached token refused');
    expect(survivor.ws.readyState).toBe(WebSocket.OPEN);
    expect((await me(cutOff.url, kept.accessToken)).status).toBe(200);
    survivor.ws.close();
    expect(cluster.allAlive()).toBe(true);
  });
});
