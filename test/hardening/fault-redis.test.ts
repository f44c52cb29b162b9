import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { STREAM_PATH, STREAM_SUBPROTOCOL } from '../../protocol/messages.ts';
import { logIn, signUpMember, type Member } from './support/accounts.ts';
import { eventually, sleep, startCluster, type Cluster } from './support/cluster.ts';
import { LoadDriver, contractBreaches, summary, terminalCloses } from './support/load-driver.ts';

// Redis stopped (SIGKILL) and started again while two gateway processes and a worker process
// carry HTTP load and streaming sockets. Expected: no gateway exits; while Redis is away every
// request that needs it fails fast with a catalogued 503 DEPENDENCY_UNAVAILABLE (none hangs,
// none is a 500); sockets stay open or close with a reconnect-worthy code; within seconds of
// Redis coming back everything works again on every gateway, sockets reconnect, nothing
// acknowledged before is lost (Redis runs append-only, as in production), and a session revoked
// right after the restart is refused — and its socket closed — on the other gateway too.
const OUTAGE_MS = 4_000;
const RECOVER_WITHIN_MS = 10_000;
let cluster: Cluster;
let members: Member[];
let driver: LoadDriver;
const marks = { down: 0, up: 0, recovered: 0 };

beforeAll(async () => {
  cluster = await startCluster({ gateways: 2, workers: 1, env: { VIGIL_CV_ENABLED: 'false' } });
  members = [];
  for (let i = 0; i < 6; i++) members.push(await signUpMember(cluster.gateways[i % 2]!.url, 'fr'));
  driver = new LoadDriver(() => cluster.gateways.map((g) => g.url), members, { concurrency: 4, sockets: 12 });
  driver.start();
  await eventually(() => driver.readySockets === 12, 15_000, 'all sockets ready');
  await sleep(2_000);
  marks.down = Date.now();
  await cluster.redis.stop();
  await sleep(OUTAGE_MS);
  await cluster.redis.start();
  marks.up = Date.now();
  // Recovered: every gateway ready and answering a real Redis-backed request.
  await eventually(
    async () => {
      for (const g of cluster.gateways) {
        if ((await fetch(`${g.url}/readyz`)).status !== 200) return false;
        const res = await fetch(`${g.url}/v1/tokens/introspect`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ token: members[0]!.accessToken }),
        });
        if (res.status !== 200) return false;
      }
      return true;
    },
    RECOVER_WITHIN_MS,
    'recovery of both gateways',
  );
  marks.recovered = Date.now();
  await sleep(3_000);
}, 120_000);

afterAll(async () => {
  await driver?.stop();
  await cluster?.close();
});

describe('Redis stopped and restarted under load', () => {
  it('keeps every gateway process running', () => {
    expect(cluster.allAlive()).toBe(true);
  });

  it('answers while Redis is down: success, or a catalogued 503 DEPENDENCY_UNAVAILABLE within 3 s; never a hang or a 500', () => {
    const during = driver.between(marks.down, marks.up);
    console.info(`redis down ${marks.up - marks.down} ms: ${summary(during)}`);
    expect(during.length).toBeGreaterThan(20);
    expect(contractBreaches(during)).toEqual([]);
    expect(during.some((s) => s.status === 503 && s.code === 'DEPENDENCY_UNAVAILABLE')).toBe(true);
  });

  it(`recovers by itself within ${RECOVER_WITHIN_MS / 1000} s, and answers correctly afterwards`, () => {
    console.info(`recovered ${marks.recovered - marks.up} ms after Redis came back`);
    expect(marks.recovered - marks.up).toBeLessThan(RECOVER_WITHIN_MS);
    const after = driver.between(marks.recovered + 500);
    console.info(`after recovery: ${summary(after)}`);
    expect(after.length).toBeGreaterThan(20);
    expect(after.filter((s) => s.status === 0 || s.status >= 500)).toEqual([]);
  });

  it('closes sockets only with reconnect-worthy codes, and every socket is streaming again', async () => {
    console.info(`socket closes: ${JSON.stringify(driver.closes.map((c) => `${c.code} ${c.reason}`))}`);
    expect(terminalCloses(driver.closes)).toEqual([]);
    await eventually(() => driver.readySockets === driver.socketCount, 15_000, 'every socket ready again');
  });

  it('lost nothing acknowledged before the outage: every account logs in, on either gateway', async () => {
    for (const [i, member] of members.entries()) {
      const session = await logIn(cluster.gateways[(i + 1) % 2]!.url, member.username, member.password);
      expect(session.userId).toBe(member.userId);
    }
  });

  it('enforces a revocation made just after the restart on the other gateway too: token refused, socket closed', async () => {
    const member = members[0]!;
    const session = await logIn(cluster.gateways[0]!.url, member.username, member.password);
    const [a, b] = cluster.gateways;
    const socket = new WebSocket(a!.url.replace(/^http/, 'ws') + STREAM_PATH, [STREAM_SUBPROTOCOL], {
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      socket.once('message', () => resolve());
      socket.once('error', reject);
    });
    // Warm gateway A's verified-token cache, then end the session through gateway B.
    expect(
      (await fetch(`${a!.url}/v1/accounts/me`, { headers: { authorization: `Bearer ${session.accessToken}` } })).status,
    ).toBe(200);
    await cluster.redis.stop();
    await cluster.redis.start();
    await eventually(
      async () =>
        (
          await fetch(`${b!.url}/v1/sessions/current`, {
            method: 'DELETE',
            headers: { authorization: `Bearer ${session.accessToken}` },
          })
        ).status === 200,
      RECOVER_WITHIN_MS,
      'logout through gateway B',
    );
    const started = Date.now();
    expect(await Promise.race([closed, sleep(5_000).then(() => -1)])).toBe(4520);
    console.info(`socket on gateway A closed ${Date.now() - started} ms after the logout on B`);
    await eventually(
      async () =>
        (await fetch(`${a!.url}/v1/accounts/me`, { headers: { authorization: `Bearer ${session.accessToken}` } })).status === 401,
      3_000,
      'token refused on A',
    );
  });
});
