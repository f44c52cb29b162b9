import { moduleOf } from '../../test/support/modules.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../../test/support/gateway.ts';
import { startNode, type Node } from '../../test/sessions/support.ts';
import type { LoginService } from './login-service.ts';

// Issue 8: legacy dialects log in through the one LoginService (limits, lockout, audit) but attach
// their own token format to a session without core tokens; C logs out by its refresh token.
let gw: TestGateway;
let node: Node;
let login: LoginService;
const meta = { ip: '127.0.0.1' };

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_LOGIN_PER_IP: '1000' });
  node = await startNode(gw.config);
  login = moduleOf(gw, 'login').login;
  const created = await fetch(`${gw.url}/v1/accounts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'dialect', password: 'passphrase 12' }),
  });
  expect(created.status).toBe(201);
});

afterAll(async () => {
  await node.close();
  await gw.close();
});

const auditOf = (sessionId: string) => gw.gateway.mongo.db.collection('audit').findOne({ event: 'login.succeeded', sessionId });

describe('LoginService.loginForDialect', () => {
  it("opens a session of the dialect's kind without core tokens; an attached token lives and dies with it", async () => {
    const result = await login.loginForDialect(
      { method: 'password', identifier: 'dialect', password: 'passphrase 12' },
      meta,
      'legacy-x',
    );
    expect(result).not.toHaveProperty('tokens');
    expect(result.session.kind).toBe('legacy-x');
    expect((await node.core.sessions.get(result.session.id))?.kind).toBe('legacy-x');
    expect(await auditOf(result.session.id)).toMatchObject({ detail: { method: 'password', kind: 'legacy-x' } });

    await node.core.sessions.attachToken(result.session, 'x', 'opaque-token', 60);
    expect((await node.core.sessions.resolveAttachedToken('x', 'opaque-token'))?.id).toBe(result.session.id);
    await node.core.sessions.revokeAllForUser(result.account.id, { reason: 'test' });
    expect(await node.core.sessions.resolveAttachedToken('x', 'opaque-token')).toBeUndefined();
  });

  it('refuses a wrong password exactly as a core login does, opening nothing', async () => {
    await expect(
      login.loginForDialect({ method: 'password', identifier: 'dialect', password: 'wrong password' }, meta, 'legacy-x'),
    ).rejects.toMatchObject({
      code: 'LOGIN_FAILED',
    });
  });

  it('a core login may name its kind and still gets the core pair', async () => {
    const result = await login.loginOneStep({ method: 'password', identifier: 'dialect', password: 'passphrase 12' }, meta, {
      kind: 'legacy-y',
    });
    expect(result.session.kind).toBe('legacy-y');
    expect(result.tokens.refreshToken).toMatch(/^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/);
  });
});

describe('SessionService.revokeByRefreshToken', () => {
  it('ends the session of a current or earlier refresh token; an unknown token ends nothing', async () => {
    const { session, tokens } = await login.loginOneStep(
      { method: 'password', identifier: 'dialect', password: 'passphrase 12' },
      meta,
    );
    const rotated = await node.core.sessions.refresh(tokens.refreshToken);
    expect(await node.core.sessions.revokeByRefreshToken('not-a-refresh-token', 'logout')).toBe(false);
    expect(await node.core.sessions.revokeByRefreshToken(rotated.tokens.refreshToken, 'logout', meta)).toBe(true);
    expect(await node.core.sessions.isLive(session.id)).toBe(false);
    expect(await node.core.sessions.revokeByRefreshToken(rotated.tokens.refreshToken, 'logout')).toBe(false);

    const second = await login.loginOneStep({ method: 'password', identifier: 'dialect', password: 'passphrase 12' }, meta);
    await node.core.sessions.refresh(second.tokens.refreshToken);
    // The first token of the family still names the session.
    expect(await node.core.sessions.revokeByRefreshToken(second.tokens.refreshToken, 'logout')).toBe(true);
    expect(await node.core.sessions.isLive(second.session.id)).toBe(false);
  });
});
