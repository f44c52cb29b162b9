import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signUpMember } from '../hardening/support/accounts.ts';
import { eventually } from '../hardening/support/cluster.ts';
import { CHANNEL_ONLY, closedWithin, readySocket, type TestSocket } from '../realtime/support.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { startPrivateRedis, type PrivateServer } from '../support/services.ts';
import { bearer, errorCode, json } from '../sessions/support.ts';

// Forgetting a device ends every session logged in from it: in one deletion, one revocation
// announcement and one wait for replicas, as "log out everywhere" does, not one of each per
// session (each WAIT holds one of the few connections logins wait on, up to REDIS_WAIT_TIMEOUT_MS
// while a replica lags). A private Redis without a replica: every WAIT runs to its timeout, and
// its command counts and revocation channel are this file's own.
let redis: PrivateServer;
let gw: TestGateway;
/** The same stores, waiting for nothing: signs the account up and logs its devices in. */
let plain: TestGateway;
let admin: Redis;
let listener: Redis;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  redis = await startPrivateRedis();
  gw = await startTestGateway({ ...CHANNEL_ONLY, REDIS_URL: redis.url, REDIS_WAIT_REPLICAS: '1', REDIS_WAIT_TIMEOUT_MS: '100' });
  const { MONGO_DB, REDIS_PREFIX } = gw.config;
  plain = await startTestGateway({
    ...CHANNEL_ONLY,
    REDIS_URL: redis.url,
    MONGO_DB: MONGO_DB!,
    REDIS_PREFIX,
    REDIS_WAIT_REPLICAS: '0',
    VIGIL_LOGIN_PER_IDENTIFIER: '100',
  });
  admin = new Redis(redis.url);
  listener = new Redis(redis.url);
}, 30_000);
afterAll(async () => {
  for (const socket of sockets) socket.close();
  admin?.disconnect();
  listener?.disconnect();
  await plain?.close();
  await gw?.close();
  await redis?.destroy();
});

async function waits(): Promise<number> {
  const stats = await admin.info('commandstats');
  return Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

async function logInFrom(identifier: string, password: string, device?: Record<string, string>) {
  const res = await fetch(`${plain.url}/v1/sessions`, json({ identifier, password, ...(device ? { device } : {}) }));
  expect(res.status).toBe(201);
  return (await res.json()) as { sessionId: string; accessToken: string };
}

describe('removing a device', () => {
  it("ends all of the device's sessions at once: one announcement, one wait, sockets closed, each audited", async () => {
    const member = await signUpMember(plain.url, 'dev');
    const watch = { id: 'watch-7', platform: 'wearos', model: 'Pulse 2' };
    const onWatch = [
      await logInFrom(member.username, member.password, watch),
      await logInFrom(member.email, member.password, watch),
      await logInFrom(member.username, member.password, watch),
    ];
    const onPhone = await logInFrom(member.username, member.password, { id: 'phone-7', platform: 'android' });
    const watchSockets = await Promise.all(onWatch.map((s) => readySocket(gw.url, s.accessToken)));
    const phoneSocket = await readySocket(gw.url, onPhone.accessToken);
    sockets.push(...watchSockets, phoneSocket);

    const channel = `${gw.config.REDIS_PREFIX}sessions:revoked`;
    const heard: string[] = [];
    listener.on('message', (_channel: string, message: string) => heard.push(message));
    await listener.subscribe(channel);
    const before = await waits();

    const removed = await fetch(`${gw.url}/v1/devices/${watch.id}`, { method: 'DELETE', headers: bearer(onPhone.accessToken) });
    expect(removed.status).toBe(200);
    expect(await removed.json()).toEqual({ removed: true, revokedSessions: 3 });
    expect((await waits()) - before).toBe(1);

    for (const socket of watchSockets) expect((await closedWithin(socket, 5_000)).code).toBe(4520); // TOKEN_REVOKED
    for (const s of onWatch) {
      expect(await errorCode(await fetch(`${gw.url}/v1/sessions`, { headers: bearer(s.accessToken) }))).toBe('TOKEN_REVOKED');
    }
    expect(phoneSocket.ws.readyState).toBe(phoneSocket.ws.OPEN);
    expect((await fetch(`${gw.url}/v1/sessions`, { headers: bearer(onPhone.accessToken) })).status).toBe(200);

    // Redis delivers a channel's messages in order: once this marker is heard, so is every announcement before it.
    await admin.publish(channel, '{}');
    await eventually(() => heard.includes('{}'), 5_000, 'the marker heard');
    const announcements = heard.filter((m) => m !== '{}').map((m) => JSON.parse(m) as { sessionIds: string[]; reason: string });
    expect(announcements).toHaveLength(1);
    expect(announcements[0]!.reason).toBe('device_removed');
    expect([...announcements[0]!.sessionIds].sort()).toEqual(onWatch.map((s) => s.sessionId).sort());

    const audit = (await (await fetch(`${gw.url}/v1/accounts/me/audit`, { headers: bearer(onPhone.accessToken) })).json()) as {
      events: Array<{ event: string; sessionId?: string; deviceId?: string; detail?: Record<string, unknown> }>;
    };
    const ended = audit.events.filter((e) => e.event === 'session.revoked');
    expect(ended.map((e) => e.sessionId).sort()).toEqual(onWatch.map((s) => s.sessionId).sort());
    for (const e of ended) expect(e).toMatchObject({ deviceId: watch.id, detail: { reason: 'device_removed' } });
    expect(audit.events.find((e) => e.event === 'device.removed')).toMatchObject({
      deviceId: watch.id,
      detail: { revokedSessions: 3 },
    });

    const again = await fetch(`${gw.url}/v1/devices/${watch.id}`, { method: 'DELETE', headers: bearer(onPhone.accessToken) });
    expect(again.status).toBe(404);
  });
});
