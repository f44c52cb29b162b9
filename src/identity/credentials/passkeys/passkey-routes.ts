import type { RegistrationResponseJSON } from '@simplewebauthn/server';
import { VigilError } from '../../../../protocol/errors.ts';
import { ErrorBodySchema } from '../../../../protocol/http/common.ts';
import {
  PasskeyIdParams,
  PasskeyListReply,
  PasskeyOptionsReply,
  PasskeyView,
  RegisterPasskeyBody,
  RenamePasskeyBody,
} from '../../../../protocol/http/passkeys.ts';
import { Type, type Static } from '@sinclair/typebox';
import type { AccountService } from '../../accounts/account-service.ts';
import type { AuditLog } from '../../../audit/audit-log.ts';
import { defineRoute, type Authenticator, type Route } from '../../../server/http/route.ts';
import { factorChangeGuard } from '../recent-login.ts';
import type { Principal } from '../../../server/http/principal.ts';
import type { IdentitySessions } from '../../identity-sessions.ts';
import type { AccountFactors } from '../account-factors.ts';
import type { PasskeyCeremonies } from './passkey-ceremonies.ts';
import type { PasskeyDocument, PasskeyStore } from './passkey-store.ts';

const E = ErrorBodySchema;

export interface PasskeyRouteDeps {
  ceremonies: PasskeyCeremonies;
  store: PasskeyStore;
  factors: Pick<AccountFactors, 'methods'>;
  accounts: AccountService;
  sessions: Pick<IdentitySessions, 'loginProof'>;
  audit: AuditLog;
  auth: Authenticator<Principal>;
  /** VIGIL_MFA_PROOF_MAX_AGE_SECONDS. */
  proofMaxAgeSeconds: number;
}

export function passkeyView(doc: PasskeyDocument): Static<typeof PasskeyView> {
  const view: Static<typeof PasskeyView> = {
    id: doc._id,
    name: doc.name,
    createdAt: doc.createdAt.toISOString(),
    backupEligible: doc.backupEligible,
    backedUp: doc.backedUp,
    transports: doc.transports,
  };
  if (doc.lastUsedAt) view.lastUsedAt = doc.lastUsedAt.toISOString();
  return view;
}

/**
 * /v1/passkeys: the caller's passkeys. Adding or deleting one changes how the account logs in, so
 * both need a session from a recent login (a stolen access token alone can neither plant the
 * thief's passkey nor strip the owner's); the registration challenge is bound to that session.
 * Every lookup is by credential id *and* the caller's account: another account's id is not found.
 */
export function passkeyRoutes(deps: PasskeyRouteDeps): Route[] {
  const { ceremonies, store, auth, audit } = deps;
  // Recent, and proven by a second factor once the account has one.
  const fresh = factorChangeGuard({
    sessions: deps.sessions,
    factors: deps.factors,
    proofMaxAgeSeconds: deps.proofMaxAgeSeconds,
  });
  const meta = (principal: Principal, ip: string) => ({ userId: principal.userId, sessionId: principal.sessionId, ip });

  return [
    defineRoute({
      method: 'GET',
      path: '/v1/passkeys',
      summary: "The caller's passkeys",
      tags: ['passkeys'],
      auth,
      schema: { response: { 200: PasskeyListReply, 401: E } },
    }).handle(async ({ auth: principal }) => ({
      status: 200,
      body: { passkeys: (await store.list(principal.userId)).map(passkeyView) },
    })),

    defineRoute({
      method: 'POST',
      path: '/v1/passkeys/registration-options',
      summary: 'Start adding a passkey: options for navigator.credentials.create(); needs a recent login',
      tags: ['passkeys'],
      auth,
      schema: { response: { 200: PasskeyOptionsReply, 401: E, 403: E, 409: E } },
    }).handle(async ({ auth: principal }) => {
      await fresh(principal);
      const account = await deps.accounts.findById(principal.userId);
      const label = account?.email ?? account?.username ?? account?.phone ?? principal.userId;
      return { status: 200, body: await ceremonies.registrationOptions(principal.userId, principal.sessionId, label) };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/passkeys',
      summary: 'Add a passkey: the response of navigator.credentials.create() over this session’s options, and a name',
      tags: ['passkeys'],
      auth,
      schema: { body: RegisterPasskeyBody, response: { 201: PasskeyView, 400: E, 401: E, 403: E, 409: E } },
    }).handle(async ({ auth: principal, body, info }) => {
      await fresh(principal);
      const doc = await ceremonies.register(
        principal.userId,
        principal.sessionId,
        body.name,
        body.response as unknown as RegistrationResponseJSON,
      );
      await audit.record('mfa.passkey_added', 'success', { ...meta(principal, info.ip), detail: { credentialId: doc._id } });
      return { status: 201, body: passkeyView(doc) };
    }),

    defineRoute({
      method: 'PATCH',
      path: '/v1/passkeys/:id',
      summary: 'Rename one of your passkeys',
      tags: ['passkeys'],
      auth,
      schema: { params: PasskeyIdParams, body: RenamePasskeyBody, response: { 200: PasskeyView, 400: E, 401: E, 404: E } },
    }).handle(async ({ auth: principal, params, body }) => {
      const doc = await store.rename(principal.userId, params.id, body.name);
      if (!doc) throw new VigilError('PASSKEY_NOT_FOUND');
      return { status: 200, body: passkeyView(doc) };
    }),

    defineRoute({
      method: 'DELETE',
      path: '/v1/passkeys/:id',
      summary: 'Delete one of your passkeys; needs a recent login',
      tags: ['passkeys'],
      auth,
      schema: {
        params: PasskeyIdParams,
        response: { 200: Type.Object({ removed: Type.Literal(true) }), 400: E, 401: E, 403: E, 404: E },
      },
    }).handle(async ({ auth: principal, params, info }) => {
      await fresh(principal, true);
      if (!(await store.remove(principal.userId, params.id))) throw new VigilError('PASSKEY_NOT_FOUND');
      await audit.record('mfa.passkey_removed', 'success', { ...meta(principal, info.ip), detail: { credentialId: params.id } });
      return { status: 200, body: { removed: true as const } };
    }),
  ];
}
