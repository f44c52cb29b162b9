import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, client, latestCode, startLegacyGateway, type Client } from '../legacy/support.ts';
import { C } from '../legacy/fixtures/c-profile.ts';
import { closedWithin, readySocket } from '../realtime/support.ts';
import type { TestGateway } from '../support/gateway.ts';

// Dialect C answers a registration with a token pair while the account waits for an operator
// (pending). An operator who rejects the account must end that presence at once: the access
// token, the refresh token and any open socket. Refresh also asks the account's real status, so
// a session that escaped a revocation still cannot be renewed.

let gw: TestGateway;
let api: Client;
const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };
type Pair = { access: string; refresh: string };

beforeAll(async () => {
  gw = await startLegacyGateway('c', { VIGIL_CV_ENABLED: 'false' });
  api = client(gw.url);
  for (const [kind, uuid, entry] of [
    ['interests', 'fQW6UJWc5eNzvTNxSHK000', { emoji: '⛳', name: '골프' }],
    ['interests', 'fQW6UJWc5eNzvTNxSHK001', { emoji: '🎾', name: '테니스' }],
    ['professions', '6jPaGgDuJeeVffM7SXTBGx', { emoji: '👨‍⚕️', name: '의사' }],
  ] as const)
    expect((await api.put(`/v1/admin/legacy/c/catalogue/${kind}/${uuid}`, entry, admin)).status).toBe(200);
});
afterAll(() => gw.close());

let registrations = 0;
async function registerPending(): Promise<{ pair: Pair; userId: string }> {
  const n = ++registrations;
  const { avatar: _a, profile: _p, verification_files: _v, ...request } = C.registration.request;
  const reply = await api.post<Pair>(C.registration.path, {
    ...request,
    username: `pending${n}`,
    mobile: `010909920${String(n).padStart(2, '0')}`,
  });
  expect(reply.status).toBe(201);
  const me = await api.get<{ id: string; status: string }>('/v1/accounts/me', api.bearer(reply.body.access));
  expect([me.status, me.body.status]).toEqual([200, 'pending']);
  return { pair: reply.body, userId: me.body.id };
}

describe('a rejected account keeps no session', () => {
  it('rejecting ends its access token, refresh token and open socket at once', async () => {
    const { pair, userId } = await registerPending();
    const socket = await readySocket(gw.url, pair.access);

    const rejected = await api.post(`/v1/admin/accounts/${userId}/reject`, { reason: 'fake documents' }, admin);
    expect(rejected.status).toBe(200);

    expect((await closedWithin(socket, 5_000)).code).toBe(4520); // TOKEN_REVOKED
    expect((await api.get('/v1/accounts/me', api.bearer(pair.access))).status).toBe(401);
    expect((await api.post(C.refresh.path, { refresh: pair.refresh })).status).toBe(401);
    expect((await api.post('/v1/sessions/refresh', { refreshToken: pair.refresh })).status).toBe(401);
  });

  it('a session that escaped the revocation cannot be refreshed once the status forbids it', async () => {
    const { pair, userId } = await registerPending();
    // The status changes without the service (an operator's script, a revocation lost in flight).
    await gw.gateway.mongo.db.collection('accounts').updateOne({ _id: userId as never }, { $set: { status: 'rejected' } });
    expect((await api.post(C.refresh.path, { refresh: pair.refresh })).status).toBe(401);
  });

  it('approving a rejected account lets it sign in again (the block is lifted)', async () => {
    const { userId } = await registerPending();
    expect((await api.post(`/v1/admin/accounts/${userId}/reject`, {}, admin)).status).toBe(200);
    expect((await api.post(`/v1/admin/accounts/${userId}/approve`, undefined, admin)).status).toBe(200);
    const mobile = `+8210909920${String(registrations).padStart(2, '0')}`;
    expect((await api.post(C.mobile.path, { mobile })).status).toBe(200);
    const login = await api.post<Pair>(C.token.path, { mobile, token: await latestCode(api, mobile) });
    expect(login.status).toBe(200);
    expect((await api.get('/v1/accounts/me', api.bearer(login.body.access))).status).toBe(200);
    expect((await api.post(C.refresh.path, { refresh: login.body.refresh })).status).toBe(200);
  });
});
