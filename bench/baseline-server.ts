import { createServer, type ServerResponse } from 'node:http';
import { importJWK, jwtVerify, type CryptoKey, type JWK } from 'jose';

/**
 * The baseline: a plain node:http server doing the same token verification as the gateway's
 * introspection (Ed25519 signature, pinned algorithm, issuer, audience, typ, expiry), with the
 * key imported once — and nothing else: no session lookup, no cache, no logging.
 * Env: BENCH_PUBLIC_JWK, BENCH_ISSUER, BENCH_AUDIENCE. Prints {"port":N} when listening.
 */
const jwk = JSON.parse(process.env.BENCH_PUBLIC_JWK ?? '') as JWK;
const key = (await importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA')) as CryptoKey;
const options = {
  algorithms: ['EdDSA'],
  issuer: process.env.BENCH_ISSUER,
  audience: process.env.BENCH_AUDIENCE,
  typ: 'at+jwt',
};

const server = createServer((req, res) => {
  if (req.method !== 'POST' || req.url !== '/v1/tokens/introspect') {
    res.writeHead(404).end();
    return;
  }
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    let token: string;
    try {
      token = (JSON.parse(Buffer.concat(chunks).toString()) as { token: string }).token;
    } catch {
      res.writeHead(400).end();
      return;
    }
    jwtVerify(token, key, options).then(
      ({ payload }) => reply(res, { active: true, sub: payload.sub, sid: payload.sid, jti: payload.jti, exp: payload.exp }),
      () => reply(res, { active: false }),
    );
  });
});

function reply(res: ServerResponse, body: unknown): void {
  const json = JSON.stringify(body);
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json) }).end(json);
}

server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
