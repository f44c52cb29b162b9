import { Type } from '@sinclair/typebox';
import { VigilError } from '../../../../protocol/errors.ts';
import { ErrorBodySchema } from '../../../../protocol/http/common.ts';
import type { AccountService } from '../../accounts/account-service.ts';
import type { AuditLog } from '../../../audit/audit-log.ts';
import { defineRoute, type Authenticator, type Route } from '../../../server/http/route.ts';
import { factorChangeGuard } from '../recent-login.ts';
import type { Principal } from '../../../server/http/principal.ts';
import type { IdentitySessions } from '../../identity-sessions.ts';
import type { AccountFactors } from '../account-factors.ts';
import type { TotpFactors } from './totp-factors.ts';

const E = ErrorBodySchema;

export interface TotpRouteDeps {
  factors: TotpFactors;
  /** Every factor the account has (a passkey makes setting up an app a change that needs a factor proof). */
  accountFactors: Pick<AccountFactors, 'methods' | 'passkeyCount'>;
  accounts: AccountService;
  sessions: Pick<IdentitySessions, 'loginProof'>;
  audit: AuditLog;
  auth: Authenticator<Principal>;
  /** VIGIL_MFA_PROOF_MAX_AGE_SECONDS. */
  proofMaxAgeSeconds: number;
  /** False in production without VIGIL_MFA_KEYS: no secret is ever stored in plaintext there. */
  available: boolean;
}

/**
 * /v1/mfa: the caller's authenticator app. Adding or removing a factor changes how the account
 * logs in, so both need a session from a recent login (a stolen access token alone cannot lock
 * the owner out or strip the second factor), like biometric owner changes.
 */
export function totpRoutes(deps: TotpRouteDeps): Route[] {
  const { factors, auth, audit } = deps;
  // Recent, and proven by a second factor once the account has one (a passkey, or this app when removing it).
  const fresh = factorChangeGuard({
    sessions: deps.sessions,
    factors: deps.accountFactors,
    proofMaxAgeSeconds: deps.proofMaxAgeSeconds,
  });
  const meta = (principal: Principal, ip: string) => ({ userId: principal.userId, sessionId: principal.sessionId, ip });

  return [
    defineRoute({
      method: 'GET',
      path: '/v1/mfa',
      summary:
        "The caller's second factors: the authenticator app, recovery codes left, passkeys and what a login's second step takes",
      tags: ['mfa'],
      auth,
      schema: {
        response: {
          200: Type.Object({
            totp: Type.Object({
              enabled: Type.Boolean(),
              pendingSetup: Type.Boolean(),
              confirmedAt: Type.Optional(Type.String({ format: 'date-time' })),
            }),
            recoveryCodesLeft: Type.Integer(),
            passkeys: Type.Integer({ description: 'How many passkeys the account has (GET /v1/passkeys lists them)' }),
            methods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('recovery_code'), Type.Literal('passkey')]), {
              description: 'What a login of this account takes as its second step (empty: none)',
            }),
          }),
          401: E,
        },
      },
    }).handle(async ({ auth: principal }) => {
      const status = await factors.status(principal.userId);
      const totp: { enabled: boolean; pendingSetup: boolean; confirmedAt?: string } = {
        enabled: status.enabled,
        pendingSetup: status.pendingSetup,
      };
      if (status.confirmedAt) totp.confirmedAt = status.confirmedAt.toISOString();
      const methods = await deps.accountFactors.methods(principal.userId);
      const passkeys = await deps.accountFactors.passkeyCount(principal.userId);
      return { status: 200, body: { totp, recoveryCodesLeft: status.recoveryCodesLeft, passkeys, methods } };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/mfa/totp',
      summary: 'Start setting up an authenticator app: the otpauth:// URI and its QR code; confirm with a first code',
      tags: ['mfa'],
      auth,
      schema: {
        response: {
          200: Type.Object({
            secret: Type.String({ description: 'Base32, for typing in by hand' }),
            uri: Type.String({ description: 'otpauth://totp/… for authenticator apps' }),
            qrSvg: Type.String({ description: 'The URI as a QR code (SVG), for a person to scan' }),
          }),
          401: E,
          403: E,
          409: E,
          503: E,
        },
      },
    }).handle(async ({ auth: principal, info }) => {
      if (!deps.available) throw new VigilError('TOTP_UNAVAILABLE');
      await fresh(principal);
      const account = await deps.accounts.findById(principal.userId);
      const label = account?.email ?? account?.username ?? account?.phone ?? principal.userId;
      const setup = await factors.begin(principal.userId, label);
      await audit.record('mfa.totp_setup_started', 'success', meta(principal, info.ip));
      return { status: 200, body: setup };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/mfa/totp/confirm',
      summary: 'Confirm the authenticator app with its first code; answers ten recovery codes, shown once',
      tags: ['mfa'],
      auth,
      schema: {
        body: Type.Object({ code: Type.String({ pattern: '^[0-9]{6}$' }) }, { additionalProperties: false }),
        response: { 200: Type.Object({ recoveryCodes: Type.Array(Type.String()) }), 400: E, 401: E, 404: E, 409: E },
      },
    }).handle(async ({ auth: principal, body, info }) => {
      const recoveryCodes = await factors.confirm(principal.userId, body.code);
      await audit.record('mfa.totp_enabled', 'success', meta(principal, info.ip));
      return { status: 200, body: { recoveryCodes } };
    }),

    defineRoute({
      method: 'DELETE',
      path: '/v1/mfa/totp',
      summary: 'Remove the authenticator app (and its recovery codes); needs a recent login',
      tags: ['mfa'],
      auth,
      schema: { response: { 200: Type.Object({ removed: Type.Boolean() }), 401: E, 403: E, 404: E } },
    }).handle(async ({ auth: principal, info }) => {
      await fresh(principal, true);
      if (!(await factors.remove(principal.userId))) throw new VigilError('TOTP_NOT_ENABLED');
      await audit.record('mfa.totp_removed', 'success', meta(principal, info.ip));
      return { status: 200, body: { removed: true } };
    }),
  ];
}
