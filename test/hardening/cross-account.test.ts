import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Route } from '../../src/server/http/route.ts';
import type { TestGateway } from '../support/gateway.ts';
import { logIn, signUpMember, type Member } from './support/accounts.ts';
import { startFuzzGateway } from './support/fuzz-gateway.ts';
import { HttpClient } from './support/http-client.ts';

// No account reaches another's sessions, devices, enrolments or models. Every route of the route
// table that takes the caller's access token and names a resource by id in its path is called
// with account A's token and each id that belongs to account B (so a route added later is
// covered); none may answer 2xx, and afterwards B still has everything.
// test/sessions/revocation.test.ts shows one case (DELETE another user's session → 404).
let gw: TestGateway;
let http: HttpClient;
let a: Member;
let b: Member;
const bIds = { sessions: [] as string[], devices: [] as string[], enrollments: [] as string[] };

/** 20 Hz x,y,z for 30 s: enough for an open enrolment to accept it. */
function csv(rows = 600): string {
  const lines = ['x,y,z'];
  for (let i = 0; i < rows; i++)
    lines.push([Math.sin(i / 3), Math.cos(i / 5), Math.sin(i / 7) * 9.8].map((v) => v.toFixed(4)).join(','));
  return `${lines.join('\n')}\n`;
}

async function json<T>(res: Response): Promise<T> {
  return (await res.json()) as T;
}

beforeAll(async () => {
  gw = await startFuzzGateway({ VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR: '1000' });
  http = new HttpClient(gw.url);
  a = await signUpMember(gw.url, 'xa');
  b = await signUpMember(gw.url, 'xb');
  // B: a second session from a registered device, and an open enrolment.
  const deviceLogin = await fetch(`${gw.url}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ identifier: b.username, password: b.password, device: { id: 'b-device-1', platform: 'android' } }),
  });
  expect(deviceLogin.status).toBe(201);
  const sessions = await json<{ sessions: Array<{ id: string }> }>(
    await fetch(`${gw.url}/v1/sessions`, { headers: { authorization: `Bearer ${b.accessToken}` } }),
  );
  bIds.sessions.push(...sessions.sessions.map((s) => s.id));
  const devices = await json<{ devices: Array<{ id: string }> }>(
    await fetch(`${gw.url}/v1/devices`, { headers: { authorization: `Bearer ${b.accessToken}` } }),
  );
  bIds.devices.push(...devices.devices.map((d) => d.id));
  const enrolment = await fetch(`${gw.url}/v1/biometrics/enrollments?rate=20&open=true&modality=motion`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv', authorization: `Bearer ${b.accessToken}` },
    body: csv(),
  });
  expect(enrolment.status, await enrolment.clone().text()).toBe(202);
  bIds.enrollments.push((await json<{ enrollmentId: string }>(enrolment)).enrollmentId);
}, 60_000);
afterAll(async () => {
  http?.close();
  await gw?.close();
});

function userRoutesWithIds(): Route[] {
  return gw.gateway.routes.filter((r) => r.auth?.scheme === 'bearer' && /:\w+/.test(r.path));
}

describe("another account's resources", () => {
  it('has such routes, and B owns something behind each kind of id', () => {
    expect(userRoutesWithIds().map((r) => `${r.method} ${r.path}`)).toEqual(
      expect.arrayContaining(['DELETE /v1/sessions/:id', 'DELETE /v1/devices/:id', 'GET /v1/biometrics/enrollments/:id']),
    );
    expect(bIds.sessions.length).toBe(2);
    expect(bIds.devices).toEqual(['b-device-1']);
    expect(bIds.enrollments).toHaveLength(1);
  });

  it("answers A's token with no 2xx for any of B's ids on any route, and B keeps all of it", async () => {
    const ids = [...bIds.sessions, ...bIds.devices, ...bIds.enrollments];
    for (const route of userRoutesWithIds()) {
      for (const id of ids) {
        const path = route.path.replace(/:(\w+)/g, encodeURIComponent(id));
        const raw = route.body.kind === 'raw';
        const res = await http.send({
          method: route.method,
          path: raw ? `${path}?rate=20` : path,
          headers: { authorization: `Bearer ${a.accessToken}`, 'content-type': raw ? 'text/csv' : 'application/json' },
          body: route.body.kind === 'none' ? undefined : Buffer.from(raw ? csv(100) : '{}'),
        });
        expect(
          res.status,
          `${route.method} ${route.path} with B's ${id}: ${res.body.toString().slice(0, 200)}`,
        ).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      }
    }
    // B's sessions are all alive, its device registered, its enrolment open and unchanged.
    for (const token of [b.accessToken])
      expect((await fetch(`${gw.url}/v1/accounts/me`, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const sessions = await json<{ sessions: Array<{ id: string }> }>(
      await fetch(`${gw.url}/v1/sessions`, { headers: { authorization: `Bearer ${b.accessToken}` } }),
    );
    expect(sessions.sessions.map((s) => s.id).sort()).toEqual([...bIds.sessions].sort());
    const devices = await json<{ devices: Array<{ id: string }> }>(
      await fetch(`${gw.url}/v1/devices`, { headers: { authorization: `Bearer ${b.accessToken}` } }),
    );
    expect(devices.devices.map((d) => d.id)).toEqual(bIds.devices);
    const enrolment = await json<{ status: string; uploads: number }>(
      await fetch(`${gw.url}/v1/biometrics/enrollments/${bIds.enrollments[0]}`, {
        headers: { authorization: `Bearer ${b.accessToken}` },
      }),
    );
    expect(enrolment).toMatchObject({ status: 'open', uploads: 1 });
  });

  it("does not tell A whether B's ids exist: the same answer as for ids nobody has", async () => {
    for (const [path, id, fake] of [
      ['/v1/sessions/', bIds.sessions[0]!, 'A'.repeat(22)],
      ['/v1/devices/', bIds.devices[0]!, 'nobody-device'],
    ] as const) {
      const theirs = await http.send({
        method: 'DELETE',
        path: path + id,
        headers: { authorization: `Bearer ${a.accessToken}` },
      });
      const nobodys = await http.send({
        method: 'DELETE',
        path: path + fake,
        headers: { authorization: `Bearer ${a.accessToken}` },
      });
      const strip = (body: Buffer) =>
        body
          .toString()
          .replace(/"requestId":"[^"]*"/, '')
          .replace(id, 'ID')
          .replace(fake, 'ID');
      expect({ status: theirs.status, body: strip(theirs.body) }).toEqual({ status: nobodys.status, body: strip(nobodys.body) });
    }
    const theirs = await http.send({
      method: 'GET',
      path: `/v1/biometrics/enrollments/${bIds.enrollments[0]}`,
      headers: { authorization: `Bearer ${a.accessToken}` },
    });
    const nobodys = await http.send({
      method: 'GET',
      path: `/v1/biometrics/enrollments/${'0'.repeat(24)}`,
      headers: { authorization: `Bearer ${a.accessToken}` },
    });
    expect(theirs.status).toBe(nobodys.status);
  });

  it("keeps the models apart: A's model routes never show or delete B's", async () => {
    const aModel = await http.send({
      method: 'GET',
      path: '/v1/biometrics/model',
      headers: { authorization: `Bearer ${a.accessToken}` },
    });
    expect(aModel.status).toBe(404);
    const deleted = await http.send({
      method: 'DELETE',
      path: '/v1/biometrics/model',
      headers: { authorization: `Bearer ${a.accessToken}` },
    });
    expect(deleted.status).toBeLessThan(500);
    const enrolment = await fetch(`${gw.url}/v1/biometrics/enrollments/${bIds.enrollments[0]}`, {
      headers: { authorization: `Bearer ${b.accessToken}` },
    });
    expect(enrolment.status).toBe(200);
  });

  it("ends only the caller's own sessions with its refresh token and with logout-all", async () => {
    const other = await logIn(gw.url, a.username, a.password);
    // A cannot refresh with B's refresh token into A's session or vice versa; B's token is B's.
    const refreshed = await fetch(`${gw.url}/v1/sessions/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.accessToken}` },
      body: JSON.stringify({ refreshToken: b.refreshToken }),
    });
    const pair = (await refreshed.json()) as { accessToken?: string };
    if (pair.accessToken) {
      const me = await json<{ id: string }>(
        await fetch(`${gw.url}/v1/accounts/me`, { headers: { authorization: `Bearer ${pair.accessToken}` } }),
      );
      expect(me.id).toBe(b.userId);
      b.accessToken = pair.accessToken;
    }
    expect(
      (await fetch(`${gw.url}/v1/sessions`, { method: 'DELETE', headers: { authorization: `Bearer ${other.accessToken}` } }))
        .status,
    ).toBe(200);
    expect((await fetch(`${gw.url}/v1/accounts/me`, { headers: { authorization: `Bearer ${b.accessToken}` } })).status).toBe(200);
  });
});
