import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUpMember, logIn, type Member } from './support/accounts.ts';
import { eventually, sleep, startCluster, type Cluster } from './support/cluster.ts';
import { LoadDriver, contractBreaches, summary, terminalCloses } from './support/load-driver.ts';
import { startDistributedRedis, type DistributedRedis } from '../support/distributed-redis.ts';

// A Redis master SIGKILLed under load, on a Redis Cluster (3 masters + 3 replicas) and on a
// Sentinel set (master + replica + 3 sentinels), both started by scripts/redis-cluster.sh, with
// two gateway processes and a worker process. Expected: the replica is promoted and every
// process finds it by itself; no gateway exits; while the slots are masterless requests fail
// fast with a catalogued 503; sockets stay open or close with a reconnect-worthy code and stream
// again; and nothing acknowledged is lost.
//
// "Acknowledged" is precise here. Redis replicates asynchronously: a write the master answered
// may not have reached its replica when the master dies, and the promoted replica never saw it.
// With REDIS_WAIT_REPLICAS=1 a login and a refresh rotation are answered only once a replica
// holds them (WAIT), so an answered rotation survives; a rotation whose answer was lost (503 or
// no answer) may or may not survive, and the client's retry of the same token is answered either
// way (rotation, or the grace-period replay, hence a grace longer than a failover here).
// The last test opens the replication window on purpose: it cuts the replica's link, rotates, and
// kills the master. It fails with REDIS_WAIT_REPLICAS=0 (the promoted replica never saw the
// answered rotation, so the client's new token looks reused and the session ends). The last does
// the same to a logout and its retry: answered "ended" only once a replica holds it, or the
// promoted replica would bring the ended session (and its refresh token) back.
const WAIT = { REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '500', VIGIL_REFRESH_GRACE_MS: '15000' };
const RECOVER_WITHIN_MS = 20_000;

/** Refresh rotations in a loop, remembering what was answered and every refusal. */
class RotationTracker {
  rotations = 0;
  readonly refusals: { status: number; code?: string; afterAcknowledged: boolean }[] = [];
  private running = true;
  private loop: Promise<void> | undefined;
  private lastAnswer = 200;

  constructor(
    readonly member: Member,
    private readonly urls: string[],
  ) {}

  start(): void {
    this.loop = (async () => {
      for (let i = 0; this.running; i++) {
        const res = await fetch(`${this.urls[i % this.urls.length]}/v1/sessions/refresh`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ refreshToken: this.member.refreshToken }),
          signal: AbortSignal.timeout(5_000),
        }).catch(() => undefined);
        const status = res?.status ?? 0;
        const body = res ? ((await res.json().catch(() => ({}))) as { refreshToken?: string; error?: { code: string } }) : {};
        if (status === 200 && body.refreshToken) {
          this.member.refreshToken = body.refreshToken;
          this.rotations++;
        } else if (status !== 503 && status !== 0) {
          this.refusals.push({ status, code: body.error?.code, afterAcknowledged: this.lastAnswer === 200 });
          if (status === 401) return; // the session is gone: nothing more to rotate
        }
        this.lastAnswer = status;
        await sleep(20);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
}

async function rotate(url: string, refreshToken: string): Promise<{ status: number; refreshToken?: string; code?: string }> {
  const res = await fetch(`${url}/v1/sessions/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refreshToken }),
  });
  const body = (await res.json()) as { refreshToken?: string; error?: { code: string } };
  return { status: res.status, refreshToken: body.refreshToken, code: body.error?.code };
}

/** Logs out with an access token: the status (0 when the request failed outright). */
async function logOut(url: string, accessToken: string): Promise<number> {
  const res = await fetch(`${url}/v1/sessions/current`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${accessToken}` },
    signal: AbortSignal.timeout(5_000),
  }).catch(() => undefined);
  return res?.status ?? 0;
}

/** The data node that is master for this key now (asked directly: only the owner answers without a redirect). */
async function masterOf(redis: DistributedRedis, key: string): Promise<number> {
  for (const port of await redis.masters()) {
    const node = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0 });
    node.on('error', () => undefined);
    try {
      await node.connect();
      if ((await node.exists(key).catch(() => -1)) === 1) return port;
    } finally {
      node.disconnect();
    }
  }
  throw new Error(`no master holds ${key}`);
}

/** The distinct Redis errors each gateway logged, with when they were first and last seen (for a failing run). */
function gatewayErrors(deployment: Cluster): string {
  return deployment.gateways
    .map((g) => {
      const seen = new Map<string, string>();
      for (const line of g.output().split('\n')) {
        const m = /"time":"([^"]+)".*"message":"([^"]{0,80})/.exec(line);
        if (m) seen.set(m[2]!, `${seen.get(m[2]!)?.split(' … ')[0] ?? m[1]} … ${m[1]}`);
      }
      return JSON.stringify(Object.fromEntries(seen));
    })
    .join('\n');
}

function failoverSuite(mode: 'cluster' | 'sentinel', base: number): void {
  describe(`a ${mode} master killed under load`, () => {
    let redis: DistributedRedis;
    let deployment: Cluster;
    let driver: LoadDriver;
    let trackers: RotationTracker[];
    const signUps: Member[] = [];
    let killed = 0;
    const marks = { killed: 0, promoted: 0, restarted: 0, recovered: 0 };

    beforeAll(async () => {
      redis = await startDistributedRedis(mode, base);
      deployment = await startCluster({ gateways: 2, workers: 1, env: { ...redis.env, ...WAIT, VIGIL_CV_ENABLED: 'false' } });
      const urls = deployment.gateways.map((g) => g.url);
      const members: Member[] = [];
      for (let i = 0; i < 4; i++) members.push(await signUpMember(urls[i % 2]!, 'fo'));
      const tracked: Member[] = [];
      for (let i = 0; i < 8; i++) tracked.push(await signUpMember(urls[i % 2]!, 'tr'));
      driver = new LoadDriver(() => urls, members, { concurrency: 2, sockets: 10 });
      driver.start();
      trackers = tracked.map((m) => new RotationTracker(m, urls));
      for (const t of trackers) t.start();
      // Sign-ups keep coming during the failover; those answered 201 must log in afterwards.
      let signing = true;
      const signer = (async () => {
        for (let i = 0; signing && i < 200; i++) {
          await signUpMember(urls[i % 2]!, 'su').then(
            (m) => signUps.push(m),
            () => undefined,
          );
        }
      })();
      await eventually(() => driver.readySockets === 10, 20_000, 'all sockets ready');
      await sleep(1_500);

      const sessionKey = `${deployment.config.REDIS_PREFIX}sess:{${tracked[0]!.sessionId}}`;
      killed = mode === 'cluster' ? await masterOf(redis, sessionKey) : (await redis.masters())[0]!;
      marks.killed = Date.now();
      redis.kill(killed);
      await eventually(
        async () => {
          const masters = await redis.masters();
          return !masters.includes(killed) && masters.length === (mode === 'cluster' ? 3 : 1);
        },
        RECOVER_WITHIN_MS,
        'a replica promoted',
      );
      marks.promoted = Date.now();
      // The killed node comes back (a supervisor restarts it) as a replica of the promoted one:
      // until then its former replica has no replica of its own, and writes that wait for one
      // (REDIS_WAIT_REPLICAS=1) are answered 503.
      await redis.start();
      await eventually(() => redis.replicated(), RECOVER_WITHIN_MS, 'the restarted node in sync as a replica');
      marks.restarted = Date.now();
      // Recovered: every tracker rotating again.
      const counts = trackers.map((t) => t.rotations);
      await eventually(
        () => trackers.every((t, i) => t.refusals.length > 0 || t.rotations > counts[i]! + 2),
        RECOVER_WITHIN_MS,
        'every tracker rotating again',
      ).catch((err: unknown) => {
        console.info(`gateway errors:\n${gatewayErrors(deployment)}`);
        throw err;
      });
      marks.recovered = Date.now();
      await sleep(2_000);
      signing = false;
      await signer;
      for (const t of trackers) await t.stop();
    }, 180_000);

    afterAll(async () => {
      await driver?.stop();
      await deployment?.close();
      await redis?.destroy();
    });

    it('promotes a replica and keeps every gateway process running', async () => {
      console.info(
        `${mode}: killed ${killed}; replica promoted ${marks.promoted - marks.killed} ms later, ` +
          `killed node back as an in-sync replica after ${marks.restarted - marks.killed} ms, all rotating after ${marks.recovered - marks.killed} ms`,
      );
      expect(await redis.masters()).not.toContain(killed);
      expect(deployment.allAlive()).toBe(true);
    });

    it('answers through the failover: success or a catalogued 503 within 4 s; never a hang or a 500', () => {
      const during = driver.between(marks.killed, marks.recovered);
      console.info(`${mode} failover: ${summary(during)}`);

      // 4 s, not the 3 s of a Redis that is simply away: a command sent to the dead master waits
      // for its connection to fail, then for the slot map or the sentinels to name the new one.
      expect(contractBreaches(during, 4_000)).toEqual([]);
      const after = driver.between(marks.recovered + 500);
      if (after.some((s) => s.status >= 500)) console.info(`gateway errors:\n${gatewayErrors(deployment)}`);
      expect(after.length).toBeGreaterThan(0);
      expect(after.filter((s) => s.status === 0 || s.status >= 500)).toEqual([]);
    });

    it('keeps sockets up or closes them only with reconnect-worthy codes, and every socket streams again', async () => {
      console.info(`${mode} socket closes: ${JSON.stringify(driver.closes.map((c) => `${c.code} ${c.reason}`))}`);
      expect(terminalCloses(driver.closes)).toEqual([]);
      await eventually(() => driver.readySockets === driver.socketCount, 15_000, 'every socket ready again');
    });

    it('lost no answered refresh rotation: no tracked session was refused, and each rotates again', async () => {
      console.info(`${mode}: ${trackers.reduce((n, t) => n + t.rotations, 0)} rotations answered`);
      expect(trackers.flatMap((t) => t.refusals)).toEqual([]);
      for (const t of trackers) expect((await rotate(deployment.gateways[0]!.url, t.member.refreshToken)).status).toBe(200);
    });

    it('lost no answered sign-up: each account made during the failover logs in', async () => {
      expect(signUps.length).toBeGreaterThan(0);
      for (const m of signUps) expect((await logIn(deployment.gateways[1]!.url, m.username, m.password)).userId).toBe(m.userId);
    });

    it('keeps an answered rotation made while the replica lagged (REDIS_WAIT_REPLICAS=1)', async () => {
      await eventually(
        async () => (await redis.masters()).length === (mode === 'cluster' ? 3 : 1) && (await redis.replicated()),
        15_000,
        'topology settled',
      );
      const url = deployment.gateways[0]!.url;
      const member = await signUpMember(url, 'lag');
      const key = `${deployment.config.REDIS_PREFIX}sess:{${member.sessionId}}`;
      const master = await masterOf(redis, key);
      // Cut the master's link to its replica and keep it cut (a password the replica does not
      // know; connections already open stay authenticated), rotate, kill the master.
      const admin = new Redis({ host: '127.0.0.1', port: master });
      await admin.config('SET', 'requirepass', 'replica-locked-out');
      await admin.call('CLIENT', 'KILL', 'TYPE', 'replica');
      admin.disconnect();
      const answered = await rotate(url, member.refreshToken);
      redis.kill(master);
      // 200: a replica holds it. 503: not acknowledged, so the client keeps its token and retries.
      const held = answered.status === 200 ? answered.refreshToken! : member.refreshToken;
      console.info(`${mode}: rotation while the replica was cut off answered ${answered.status}`);
      const next = await eventually(
        async () => {
          const reply = await rotate(url, held);
          return reply.status === 503 ? undefined : reply;
        },
        RECOVER_WITHIN_MS,
        'a rotation after the failover',
      );
      expect(next.status).toBe(200);
    });

    it('keeps an answered logout made while the replica lagged: the session stays ended after the failover', async () => {
      // The node the previous test killed comes back as a replica.
      await redis.start();
      await eventually(
        async () => (await redis.masters()).length === (mode === 'cluster' ? 3 : 1) && (await redis.replicated()),
        RECOVER_WITHIN_MS,
        'topology settled',
      );
      const url = deployment.gateways[0]!.url;
      // Redis reports the topology settled a moment before every gateway connection has followed it.
      const member = await eventually(() => signUpMember(url, 'out'), RECOVER_WITHIN_MS, 'a sign-up after the restart');
      const master = await masterOf(redis, `${deployment.config.REDIS_PREFIX}sess:{${member.sessionId}}`);
      const admin = new Redis({ host: '127.0.0.1', port: master });
      await admin.config('SET', 'requirepass', 'replica-locked-out');
      await admin.call('CLIENT', 'KILL', 'TYPE', 'replica');
      admin.disconnect();
      const answered = await logOut(url, member.accessToken);
      // Told 503, the client asks again; here once while the link is still cut. Neither answer may
      // say "ended" (200, 401) before a replica holds the deletion: the failover below would bring
      // the session back after the client stopped asking.
      const retried = answered === 200 ? answered : await logOut(url, member.accessToken);
      redis.kill(master);
      console.info(`${mode}: logout while the replica was cut off answered ${answered}, its retry ${retried}`);
      await eventually(
        async () => {
          const masters = await redis.masters();
          return !masters.includes(master) && masters.length === (mode === 'cluster' ? 3 : 1);
        },
        RECOVER_WITHIN_MS,
        'a replica promoted',
      );
      await redis.start();
      if (retried !== 200 && retried !== 401) {
        // Not confirmed: the client logs out again once the promoted master has a replica.
        const again = await eventually(
          async () => {
            const status = await logOut(url, member.accessToken);
            return status === 503 || status === 0 ? undefined : status;
          },
          RECOVER_WITHIN_MS,
          'a logout after the failover',
        );
        // 200: the promoted replica had the session (the first deletion never reached it); 401: it had not.
        expect([200, 401]).toContain(again);
      }
      const refresh = await eventually(
        async () => {
          const reply = await rotate(url, member.refreshToken);
          return reply.status === 503 ? undefined : reply;
        },
        RECOVER_WITHIN_MS,
        'a refresh after the failover',
      );
      expect(refresh.status).toBe(401);
    });
  });
}

failoverSuite('cluster', 7300);
failoverSuite('sentinel', 7340);
