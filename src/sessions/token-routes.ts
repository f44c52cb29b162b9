import { ErrorBodySchema } from '../../protocol/http/common.ts';
import { IntrospectBody, IntrospectReply, JwksReply, RotateKeysReply } from '../../protocol/http/tokens.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import { clientKey } from '../rate-limits/client-key.ts';
import type { LocalRateLimit } from '../rate-limits/local-rate.ts';
import type { AdminPrincipal } from '../server/admin-auth.ts';
import type { InternalCaller } from '../server/internal-auth.ts';
import { defineRoute, type Authenticator, type Route } from '../server/http/route.ts';
import type { PrincipalResolver } from '../sessions/principal-resolver.ts';
import type { SessionService } from '../sessions/session-service.ts';
import type { KeyRing } from '../tokens/key-ring.ts';

export function tokenRoutes(deps: {
  keys: KeyRing;
  resolver: PrincipalResolver;
  /** Answers for dialect tokens attached to sessions (B, E). */
  sessions: Pick<SessionService, 'introspectAttached'>;
  admin: Authenticator<AdminPrincipal>;
  /** Who may introspect (VIGIL_INTROSPECTION_TOKEN), and how often per client address. */
  introspection: { auth: Authenticator<InternalCaller>; limit: LocalRateLimit };
  audit: AuditLog;
  graceSeconds: number;
}): Route[] {
  const { keys, resolver } = deps;
  return [
    defineRoute({
      method: 'GET',
      path: '/.well-known/jwks.json',
      summary: 'Public keys that verify access tokens (JWK set)',
      tags: ['tokens'],
      schema: { response: { 200: JwksReply } },
      // Verifiers may cache the key set briefly; they refetch on an unknown kid anyway.
    }).handle(async () => ({ status: 200, body: keys.jwks() as JwksReply, headers: { 'cache-control': 'public, max-age=300' } })),

    defineRoute({
      method: 'POST',
      path: '/v1/tokens/introspect',
      summary: 'Whether an access token is active: signature, claims, expiry and a live session',
      tags: ['tokens'],
      auth: deps.introspection.auth,
      // RFC 7662 clients post a form; JSON stays accepted.
      body: { kind: 'form', limit: 16 * 1024 },
      schema: {
        body: IntrospectBody,
        response: {
          200: IntrospectReply,
          400: ErrorBodySchema,
          401: ErrorBodySchema,
          403: ErrorBodySchema,
          429: ErrorBodySchema,
        },
      },
    }).handle(async ({ body, info }) => {
      // An answer per token is an oracle and a signature check costs CPU: counted per client first.
      deps.introspection.limit.hit(clientKey(info.ip));
      if (body.tokenType !== undefined && body.tokenType !== 'access_token') {
        // B's and E's resource servers verify offline; asking here is how they learn a session ended.
        const legacy = await deps.sessions.introspectAttached(body.tokenType, body.token);
        if (!legacy) return { status: 200, body: { active: false as const, code: 'TOKEN_REVOKED' } };
        const { session, expiresAt } = legacy;
        return {
          status: 200,
          body: {
            active: true as const,
            sub: session.userId,
            sid: session.id,
            exp: expiresAt,
            ...(session.amr ? { amr: session.amr } : {}),
            tokenType: body.tokenType,
            token_type: 'Bearer' as const,
          },
        };
      }
      const result = await resolver.introspect(body.token);
      if (!result.active) return { status: 200, body: { active: false as const, code: result.code } };
      const { claims } = result;
      const reply: IntrospectReply = {
        active: true,
        sub: claims.sub,
        sid: claims.sid,
        jti: claims.jti,
        iss: claims.iss,
        aud: claims.aud,
        iat: claims.iat,
        exp: claims.exp,
        tokenType: 'access_token',
        token_type: 'Bearer',
      };
      if (claims.kid) reply.kid = claims.kid;
      if (claims.amr) reply.amr = claims.amr;
      return { status: 200, body: reply };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/admin/keys/rotate',
      summary: 'Start signing with a new key; the previous one verifies until the grace period ends',
      tags: ['admin', 'tokens'],
      auth: deps.admin,
      schema: { response: { 200: RotateKeysReply, 401: ErrorBodySchema, 403: ErrorBodySchema, 409: ErrorBodySchema } },
    }).handle(async ({ info }) => {
      const { kid } = await keys.rotate();
      await deps.audit.record('keys.rotated', 'success', { ip: info.ip, detail: { kid } });
      return { status: 200, body: { kid, previousVerifiesForSeconds: deps.graceSeconds } };
    }),
  ];
}
