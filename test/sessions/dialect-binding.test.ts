import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hs512Secret, hs512Signer } from '../../src/tokens/jwt-signer.ts';
import { hs512Verifier } from '../../src/tokens/jwt-verifier.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { startNode, type Node } from './support.ts';

// What a legacy dialect builds on: a real session without core tokens, its own token format
// bound to it (an opaque token, an HS512 JWT with its own claim names), and revocation that
// ends those tokens too — in every process.
let gw: TestGateway;
let node: Node;

beforeAll(async () => {
  gw = await startTestGateway();
  node = await startNode(gw.config);
});
afterAll(async () => {
  await node?.close();
  await gw?.close();
});

describe('dialect tokens bound to core sessions', () => {
  it('resolves an attached opaque token while its session lives, and not after revocation', async () => {
    const sessions = node.core.sessions;
    const session = await sessions.open({ userId: 'u-dialect', kind: 'dialect-a', ip: '198.51.100.1' });
    const opaque = randomBytes(20).toString('hex');
    await sessions.attachToken(session, 'a', opaque, 3600);
    expect((await sessions.resolveAttachedToken('a', opaque))?.id).toBe(session.id);
    expect(await sessions.resolveAttachedToken('b', opaque)).toBeUndefined();
    // Listed among the user's sessions like any other, with its kind.
    expect((await sessions.list('u-dialect')).map((s) => s.kind)).toEqual(['dialect-a']);

    // The token's key exists, and goes with the session (KEYS patterns are not prefixed by ioredis).
    const dialectKeys = () => gw.gateway.redis.keys(`${gw.config.REDIS_PREFIX}dtok:*`);
    expect(await dialectKeys()).toHaveLength(1);
    expect(await node.core.sessions.revokeAllForUser('u-dialect', { reason: 'logout' })).toBe(1);
    expect(await sessions.resolveAttachedToken('a', opaque)).toBeUndefined();
    expect(await dialectKeys()).toEqual([]);
  });

  it('detaches one token (a legacy refresh token blacklisted on logout) without ending the session', async () => {
    const sessions = node.core.sessions;
    const session = await sessions.open({ userId: 'u-detach', kind: 'dialect-c' });
    await sessions.attachToken(session, 'c-refresh', 'refresh-1', 3600);
    await sessions.detachToken('c-refresh', 'refresh-1');
    expect(await sessions.resolveAttachedToken('c-refresh', 'refresh-1')).toBeUndefined();
    expect(await sessions.isLive(session.id)).toBe(true);
  });

  it('mints an HS512 token in a dialect’s own shape for a real session, with a core access token too', async () => {
    const sessions = node.core.sessions;
    const session = await sessions.open({ userId: 'u-hs512', kind: 'dialect-b' });
    const secret = await hs512Secret(randomBytes(64), 'DIALECT_B_SECRET');
    const now = Math.floor(Date.now() / 1000);
    const token = await hs512Signer(secret).sign({ userNo: 42, sessionKey: session.id, iat: now, exp: now + 60 });
    const { claims } = await hs512Verifier(secret, { clockToleranceSeconds: 0, requiredClaims: ['sessionKey'] }).verify(token);
    expect(await sessions.isLive(String(claims.sessionKey), 'u-hs512')).toBe(true);

    const access = await sessions.issueAccessToken(session);
    expect((await node.core.resolver.resolve(access.token)).sessionId).toBe(session.id);
  });
});
