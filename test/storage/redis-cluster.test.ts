import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { STREAM_PATH, STREAM_SUBPROTOCOL } from '../../protocol/messages.ts';
import { slice, toCsv, walking } from '../biometrics/support.ts';
import { signUpMember } from '../hardening/support/accounts.ts';
import { eventually, sleep, startCluster, type Cluster } from '../hardening/support/cluster.ts';
import { dropTestData } from '../support/gateway.ts';
import { startDistributedRedis, type DistributedRedis } from '../support/distributed-redis.ts';

// The core flows on a real Redis Cluster (3 masters + 3 replicas, scripts/redis-cluster.sh):
// two gateway processes and a worker process, all configured with REDIS_CLUSTER_NODES only.
// Sessions, refresh families, lockouts and codes spread over the three masters; a script or
// MULTI whose keys crossed slots would fail here with CROSSSLOT, which standalone Redis accepts.
// Its own ports, not the script's default 7100-7105 (a developer's cluster): stopped afterwards.
const CLUSTER_BASE = 7130;
let redis: DistributedRedis;
let deployment: Cluster;

const post = async (base: string, path: string, body: unknown, headers: Record<string, string> = {}) => {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
};
const codeOf = (reply: { body: Record<string, unknown> }) => (reply.body.error as { code?: string } | undefined)?.code;

beforeAll(async () => {
  redis = await startDistributedRedis('cluster', CLUSTER_BASE);
  deployment = await startCluster({
    gateways: 2,
    workers: 1,
    env: { ...redis.env, VIGIL_CV_ENABLED: 'false', VIGIL_LOCKOUT_MAX_FAILURES: '3', VIGIL_BIOMETRIC_VERIFY_PER_MINUTE: '1000' },
  });
}, 120_000);

afterAll(async () => {
  try {
    if (deployment) await dropTestData(deployment.config);
    await deployment?.close();
  } finally {
    await redis?.destroy();
  }
});

describe('on a Redis Cluster', () => {
  it('spreads the deployment over three masters, each with a replica', async () => {
    expect((await redis.masters()).length).toBe(3);
  });

  it('signs up and logs in, on either gateway', async () => {
    const [a, b] = deployment.gateways;
    const member = await signUpMember(a!.url, 'cl');
    const again = await post(b!.url, '/v1/sessions', { identifier: member.email, password: member.password });
    expect(again.status).toBe(201);
    const me = await fetch(`${b!.url}/v1/accounts/me`, { headers: { authorization: `Bearer ${member.accessToken}` } });
    expect(me.status).toBe(200);
  });

  it('rotates refresh tokens across gateways and revokes the family on reuse', async () => {
    const [a, b] = deployment.gateways;
    const member = await signUpMember(a!.url, 'rf');
    let token = member.refreshToken;
    const first = token;
    for (let i = 0; i < 4; i++) {
      const rotated = await post((i % 2 ? a : b)!.url, '/v1/sessions/refresh', { refreshToken: token });
      expect(rotated.status).toBe(200);
      token = String(rotated.body.refreshToken);
    }
    const reuse = await post(a!.url, '/v1/sessions/refresh', { refreshToken: first });
    expect(reuse.status).toBe(401);
    // The whole family ended with it: the current token is refused too.
    expect((await post(b!.url, '/v1/sessions/refresh', { refreshToken: token })).status).toBe(401);
  });

  it('lists and ends every session of an account (the index and the sessions live in different slots)', async () => {
    const [a, b] = deployment.gateways;
    const member = await signUpMember(a!.url, 'ls');
    const second = await post(b!.url, '/v1/sessions', { identifier: member.username, password: member.password });
    const auth = { authorization: `Bearer ${member.accessToken}` };
    const list = (await (await fetch(`${a!.url}/v1/sessions`, { headers: auth })).json()) as { sessions: unknown[] };
    expect(list.sessions.length).toBe(2);
    const ended = await fetch(`${b!.url}/v1/sessions`, { method: 'DELETE', headers: auth });
    expect(ended.status).toBeLessThan(300);
    const refused = await post(a!.url, '/v1/sessions/refresh', { refreshToken: String(second.body.refreshToken) });
    expect(refused.status).toBe(401);
  });

  it('locks an identifier after repeated failures, counted across gateways (a three-key script)', async () => {
    const member = await signUpMember(deployment.gateways[0]!.url, 'lk');
    const answers: (string | undefined)[] = [];
    for (let i = 0; i < 4; i++) {
      const reply = await post(deployment.gateways[i % 2]!.url, '/v1/sessions', {
        identifier: member.username,
        password: 'not the password',
      });
      answers.push(codeOf(reply));
    }
    expect(answers.at(-1)).toBe('LOGIN_LOCKED');
    // Locked even with the right password, on the other gateway.
    const right = await post(deployment.gateways[1]!.url, '/v1/sessions', {
      identifier: member.username,
      password: member.password,
    });
    expect(codeOf(right)).toBe('LOGIN_LOCKED');
  });

  it('closes a socket on one gateway when its session is ended through the other (revocation pub/sub)', async () => {
    const [a, b] = deployment.gateways;
    const member = await signUpMember(a!.url, 'rv');
    const socket = new WebSocket(a!.url.replace(/^http/, 'ws') + STREAM_PATH, [STREAM_SUBPROTOCOL], {
      headers: { authorization: `Bearer ${member.accessToken}` },
    });
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      socket.once('message', () => resolve());
      socket.once('error', reject);
    });
    const logout = await fetch(`${b!.url}/v1/sessions/current`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${member.accessToken}` },
    });
    expect(logout.status).toBe(200);
    expect(await Promise.race([closed, sleep(5_000).then(() => -1)])).toBe(4520);
  });

  it('trains a model in the worker process through BullMQ (hash-tagged queue prefix)', async () => {
    const [a, b] = deployment.gateways;
    const member = await signUpMember(a!.url, 'bm');
    const walk = (await walking()).get('1612')!;
    const res = await fetch(`${a!.url}/v1/biometrics/enrollments?rate=20`, {
      method: 'POST',
      headers: { authorization: `Bearer ${member.accessToken}`, 'content-type': 'text/csv' },
      body: toCsv(slice(walk, 0, 1000)),
    });
    expect(res.status).toBe(202);
    const { enrollmentId } = (await res.json()) as { enrollmentId: string };
    const view = await eventually(
      async () => {
        const reply = await fetch(`${b!.url}/v1/biometrics/enrollments/${enrollmentId}`, {
          headers: { authorization: `Bearer ${member.accessToken}` },
        });
        const body = (await reply.json()) as { status: string; modelVersion?: number };
        return body.status === 'ready' || body.status === 'failed' ? body : undefined;
      },
      90_000,
      'training to finish',
    );
    expect(view.status).toBe('ready');
    expect(deployment.workers[0]!.output()).not.toContain('CROSSSLOT');
  });

  it('logged no cross-slot error in any process, and wrote nothing to the standalone Redis at REDIS_URL', async () => {
    for (const g of deployment.gateways) expect(g.output()).not.toMatch(/CROSSSLOT|non local key|same slot/);
    const standalone = new Redis(deployment.redis.url);
    try {
      expect(await standalone.dbsize()).toBe(0);
    } finally {
      standalone.disconnect();
    }
  });
});
