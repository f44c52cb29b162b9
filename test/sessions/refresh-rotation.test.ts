import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { bearer, errorCode, json, sleep, startNode, type Node } from './support.ts';

// Refresh tokens rotate as a family per session: each one works once; the previous one, retried
// within the grace period, gets the very same new pair; any other reuse revokes the session.
const GRACE_MS = 600;
let gw: TestGateway;
let node: Node;

interface Pair {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_REFRESH_GRACE_MS: String(GRACE_MS) });
  node = await startNode(gw.config);
});
afterAll(async () => {
  await node?.close();
  await gw?.close();
});

const refresh = (refreshToken: string) => fetch(`${gw.url}/v1/sessions/refresh`, json({ refreshToken }));
const sessionsOf = (accessToken: string) => fetch(`${gw.url}/v1/sessions`, { headers: bearer(accessToken) });

async function login(userId: string) {
  const { session, tokens } = await node.core.sessions.start({ userId });
  return { sessionId: session.id, ...tokens };
}

async function rotate(refreshToken: string): Promise<Pair> {
  const res = await refresh(refreshToken);
  expect(res.status).toBe(200);
  return (await res.json()) as Pair;
}

describe('refresh rotation', () => {
  it('trades a refresh token for a new pair, and the new access token works', async () => {
    const first = await login('u-rotate');
    const second = await rotate(first.refreshToken);
    expect(second.sessionId).toBe(first.sessionId);
    expect(second.refreshToken).not.toBe(first.refreshToken);
    expect(second.accessToken).not.toBe(first.accessToken);
    expect((await sessionsOf(second.accessToken)).status).toBe(200);
    const third = await rotate(second.refreshToken);
    expect((await sessionsOf(third.accessToken)).status).toBe(200);
  });

  it('answers a retry of the previous token within the grace period with the same pair', async () => {
    const first = await login('u-grace');
    const second = await rotate(first.refreshToken);
    const retried = await rotate(first.refreshToken);
    expect(retried).toEqual(second);
    // The pair is live: its refresh token rotates normally and the session survived.
    const third = await rotate(retried.refreshToken);
    expect((await sessionsOf(third.accessToken)).status).toBe(200);
  });

  it('gives concurrent presentations of one token one pair between them', async () => {
    const first = await login('u-concurrent');
    const answers = await Promise.all(Array.from({ length: 5 }, () => rotate(first.refreshToken)));
    for (const answer of answers) expect(answer).toEqual(answers[0]);
    expect((await sessionsOf(answers[0]!.accessToken)).status).toBe(200);
  });

  it('revokes the whole family and the session when an old token is reused after the grace period', async () => {
    const first = await login('u-reuse');
    const second = await rotate(first.refreshToken);
    await sleep(GRACE_MS + 200);
    const reuse = await refresh(first.refreshToken);
    expect(reuse.status).toBe(401);
    expect(await errorCode(reuse)).toBe('REFRESH_TOKEN_REUSED');
    // The legitimate holder's tokens died with the session.
    const access = await sessionsOf(second.accessToken);
    expect(await errorCode(access)).toBe('TOKEN_REVOKED');
    const current = await refresh(second.refreshToken);
    expect(current.status).toBe(401);
    expect(await errorCode(current)).toBe('TOKEN_REVOKED');
    expect(await node.core.sessions.isLive(first.sessionId)).toBe(false);
  });

  it('treats a token two generations old as reuse even inside the grace period', async () => {
    const first = await login('u-old');
    const second = await rotate(first.refreshToken);
    await rotate(second.refreshToken);
    const reuse = await refresh(first.refreshToken);
    expect(await errorCode(reuse)).toBe('REFRESH_TOKEN_REUSED');
    expect(await node.core.sessions.isLive(first.sessionId)).toBe(false);
  });

  it('refuses a refresh token it never issued, without touching any session', async () => {
    const first = await login('u-unknown');
    const res = await refresh('x'.repeat(43));
    expect(res.status).toBe(401);
    expect(await errorCode(res)).toBe('REFRESH_TOKEN_INVALID');
    // Naming a real session is not enough: without the family's MAC it is not "reuse", and must
    // not let anyone who saw a session id revoke that session.
    const [sid, random] = first.refreshToken.split('.');
    const forged = await refresh(`${sid}.${random}.${'A'.repeat(43)}`);
    expect(await errorCode(forged)).toBe('REFRESH_TOKEN_INVALID');
    expect(await node.core.sessions.isLive(first.sessionId)).toBe(true);
    expect((await refresh(first.refreshToken)).status).toBe(200);
  });

  it('keeps a family the same size however often it rotates', async () => {
    const first = await login('u-size');
    let token = first.refreshToken;
    for (let i = 0; i < 20; i++) token = (await rotate(token)).refreshToken;
    const keys = (await node.context.redis.keys(`${gw.config.REDIS_PREFIX}*${first.sessionId}*`)).map((k) =>
      k.slice(gw.config.REDIS_PREFIX.length),
    );
    expect(keys.sort()).toEqual([`rg:{${first.sessionId}}`, `sess:{${first.sessionId}}`]);
    // And nothing stored holds a refresh token in the clear.
    const stored = JSON.stringify(await node.context.redis.hgetall(`sess:{${first.sessionId}}`));
    expect(stored).not.toContain(token.split('.')[1]);
  });

  it('records refreshes and reuse in the audit trail', async () => {
    const first = await login('u-audit');
    await rotate(first.refreshToken);
    await sleep(GRACE_MS + 200);
    await refresh(first.refreshToken);
    const events = (await node.context.audit.listForUser('u-audit', { limit: 10 })).map((r) => r.event);
    expect(events).toEqual(expect.arrayContaining(['token.refreshed', 'token.reuse_detected']));
  });
});
