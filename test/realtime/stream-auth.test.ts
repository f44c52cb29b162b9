import { SignJWT, decodeJwt, decodeProtectedHeader, generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERRORS, type CoreErrorCode } from '../../protocol/errors.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { TestSocket, closedWithin, login, startNode, type Login, type Node } from './support.ts';

// Upgrades with every kind of token, against a real gateway with real sessions (Redis) and
// real Ed25519 keys (Mongo). Sockets are real `ws` clients.
let gw: TestGateway;
let node: Node;
const sockets: TestSocket[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ VIGIL_WS_AUTH_TIMEOUT_MS: '600' });
  node = await startNode(gw.config);
});
afterAll(async () => {
  for (const socket of sockets) socket.close();
  await node?.close();
  await gw?.close();
});

function open(...args: ConstructorParameters<typeof TestSocket>): TestSocket {
  const socket = new TestSocket(...args);
  sockets.push(socket);
  return socket;
}

/** The socket opens, gets `bye` with `code`, and closes with that entry's close code. */
async function expectClosedWith(socket: TestSocket, code: CoreErrorCode): Promise<void> {
  await socket.opened;
  const bye = await socket.next('bye');
  expect(bye.code).toBe(code);
  expect(bye.close).toBe(ERRORS[code].close);
  expect(await closedWithin(socket, 2_000)).toEqual({ code: ERRORS[code].close, reason: code });
}

describe('upgrade authentication', () => {
  it.each(['header', 'protocol'] as const)('accepts a good token in the %s and says ready', async (via) => {
    const user = await login(node);
    const socket = open(gw.url, { token: user.accessToken, via });
    await socket.opened;
    expect(socket.ws.protocol).toBe('vigil.v1'); // never the bearer subprotocol
    const ready = await socket.next('ready');
    expect(ready).toMatchObject({
      protocol: 1,
      sessionId: user.sessionId,
      userId: user.userId,
      expiresAt: user.expiresAt,
      model: null,
      limits: { maxMessageBytes: gw.config.VIGIL_WS_MAX_MESSAGE_BYTES, maxStreams: gw.config.VIGIL_WS_MAX_STREAMS },
    });
    expect(Math.abs(ready.serverTime - Date.now())).toBeLessThan(2_000);
  });

  it('accepts a good token in a first auth message', async () => {
    const user = await login(node);
    const socket = open(gw.url);
    await socket.opened;
    socket.sendJson({ type: 'auth', token: user.accessToken });
    expect(await socket.next('ready')).toMatchObject({ sessionId: user.sessionId });
  });

  it('closes an expired token with TOKEN_EXPIRED, a reconnect-worthy code', async () => {
    const user = await login(node);
    // A token of the gateway's own key whose exp is already past.
    const expired = await node.core.accessTokens.issue(user.userId, user.sessionId, Math.floor(Date.now() / 1000) - 60);
    const socket = open(gw.url, { token: expired.token });
    await expectClosedWith(socket, 'TOKEN_EXPIRED');
  });

  it('closes a forged token: our kid, a stranger’s signature', async () => {
    const user = await login(node);
    const { privateKey } = await generateKeyPair('EdDSA');
    const header = decodeProtectedHeader(user.accessToken);
    const forged = await new SignJWT(decodeJwt(user.accessToken))
      .setProtectedHeader({ ...header, alg: 'EdDSA' })
      .sign(privateKey);
    await expectClosedWith(open(gw.url, { token: forged }), 'TOKEN_SIGNATURE_INVALID');
  });

  it('closes a token whose claims were edited after signing', async () => {
    const user = await login(node);
    const [head, , signature] = user.accessToken.split('.');
    const body = Buffer.from(JSON.stringify({ ...decodeJwt(user.accessToken), sub: 'someone-else' })).toString('base64url');
    await expectClosedWith(open(gw.url, { token: `${head}.${body}.${signature}`, via: 'protocol' }), 'TOKEN_SIGNATURE_INVALID');
  });

  it('closes garbage with TOKEN_MALFORMED', async () => {
    await expectClosedWith(open(gw.url, { token: 'not-a-jwt' }), 'TOKEN_MALFORMED');
  });

  it('closes a token of a revoked session with TOKEN_REVOKED', async () => {
    const user = await login(node);
    expect(await node.core.sessions.revoke(user.userId, user.sessionId, 'logout')).toBe(true);
    await expectClosedWith(open(gw.url, { token: user.accessToken }), 'TOKEN_REVOKED');
  });

  it('closes a bad token sent as the auth message, too', async () => {
    const socket = open(gw.url);
    await socket.opened;
    socket.sendJson({ type: 'auth', token: 'not-a-jwt' });
    await expectClosedWith(socket, 'TOKEN_MALFORMED');
  });

  it('accepts a socket that offers no subprotocol (answered without one) and speaks the same protocol', async () => {
    const user = await login(node);
    const socket = open(gw.url, { token: user.accessToken, protocols: [] });
    await socket.opened;
    expect(socket.ws.protocol).toBe('');
    expect(await socket.next('ready')).toMatchObject({ sessionId: user.sessionId });
  });

  it('refuses a message with an unknown field by closing with 3502 after a bye, not with an error reply', async () => {
    const user = await login(node);
    const socket = open(gw.url);
    await socket.opened;
    socket.sendJson({ type: 'auth', token: user.accessToken, extra: 1 });
    await expectClosedWith(socket, 'STREAM_MESSAGE_MALFORMED');
  });
});

describe('sockets without authentication', () => {
  it('closes a socket that never authenticates after VIGIL_WS_AUTH_TIMEOUT_MS', async () => {
    const socket = open(gw.url);
    await socket.opened;
    const started = Date.now();
    await expectClosedWith(socket, 'STREAM_AUTH_TIMEOUT');
    const waited = Date.now() - started;
    expect(waited).toBeGreaterThanOrEqual(550);
    expect(waited).toBeLessThan(2_000);
  });

  it('refuses frames and other messages before auth', async () => {
    const binary = open(gw.url);
    await binary.opened;
    binary.ws.send(new Uint8Array(32));
    await expectClosedWith(binary, 'STREAM_MESSAGE_MALFORMED');

    const control = open(gw.url);
    await control.opened;
    control.sendJson({ type: 'stream.open', stream: 1, rate: 50, channels: ['x'] });
    await expectClosedWith(control, 'STREAM_MESSAGE_MALFORMED');
  });

  it('refuses a second auth message', async () => {
    const user: Login = await login(node);
    const socket = open(gw.url, { token: user.accessToken });
    await socket.next('ready');
    socket.sendJson({ type: 'auth', token: user.accessToken });
    await expectClosedWith(socket, 'STREAM_MESSAGE_MALFORMED');
  });

  it('leaves plain GET /v1/stream to the HTTP 404', async () => {
    const res = await fetch(`${gw.url}/v1/stream`);
    expect(res.status).toBe(404);
  });

  it('counts upgrades and closes in /metrics', async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    expect(text).toMatch(/vigil_ws_upgrades_total\{outcome="authenticated"\} [1-9]/);
    expect(text).toMatch(/vigil_ws_closes_total\{code="3002"\} 1/);
  });
});

describe('a burst of upgrades', () => {
  const verified = async () => {
    const text = await (await fetch(`${gw.url}/metrics`)).text();
    return Number(/vigil_token_verifications_total\{outcome="verified"\} (\d+)/.exec(text)?.[1] ?? 0);
  };

  it("verifies a token once when a device fleet upgrades with it at the same moment, and admits exactly the account's limit", async () => {
    const limit = gw.config.VIGIL_WS_MAX_CONNECTIONS_PER_USER;
    const user = await login(node);
    const before = await verified();
    // One turn's upgrades are admitted by one Redis call: the limit must hold inside it.
    const burst = Array.from({ length: limit + 3 }, () => open(gw.url, { token: user.accessToken }));
    const outcomes = await Promise.all(
      burst.map(async (socket) => {
        // Refused sockets say `bye` and close; admitted ones say `ready` and stay open.
        await Promise.race([socket.closed, socket.until('ready').catch(() => undefined)]);
        const first = socket.messages[0];
        return first?.type === 'bye' ? first.code : first?.type;
      }),
    );
    expect(outcomes.filter((o) => o === 'ready')).toHaveLength(limit);
    expect(outcomes.filter((o) => o === 'STREAM_TOO_MANY_CONNECTIONS')).toHaveLength(3);
    expect((await verified()) - before).toBe(1);
    for (const socket of burst) socket.close();
  });
});
