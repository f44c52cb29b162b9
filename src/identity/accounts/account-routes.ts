import { requestContext } from '../../server/http/request-context.ts';
import { Type } from '@sinclair/typebox';
import {
  AcceptedReply,
  ErrorReply,
  AccountIdParams,
  AdminListQuery,
  AvailabilityQuery,
  AvailabilityReply,
  RejectBody,
  VerificationLinkBody,
  VerifyEmailQuery,
  VerifyEmailReply,
  WithdrawBody,
  WithdrawReply,
  accountViewSchema,
  patchMeBodySchema,
  signUpBodySchema,
} from '../../../protocol/http/accounts.ts';
import { VigilError } from '../../../protocol/errors.ts';
import type { AdminPrincipal } from '../../server/admin-auth.ts';
import { defineRoute, type Authenticator, type Route } from '../../server/http/route.ts';
import type { Principal } from '../../server/http/principal.ts';
import type { EmailLinks } from '../codes/email-links.ts';
import { publicView } from './account.ts';
import type { AccountService } from './account-service.ts';
import { prefixFields } from '../../server/http/field-errors.ts';
import { Withdrawal } from './withdrawal.ts';

export interface AccountRouteDeps {
  accounts: AccountService;
  links: EmailLinks;
  withdrawal: Withdrawal;
  userAuth: Authenticator<Principal>;
  admin: Authenticator<AdminPrincipal>;
}

const E = ErrorReply;

/** /v1/accounts/* and /v1/admin/accounts/*. Schemas come from protocol/http/accounts.ts. */
export function accountRoutes(deps: AccountRouteDeps): Route[] {
  const { accounts, links, withdrawal, userAuth, admin } = deps;
  const fields = accounts.profiles.fields;
  const AccountSchema = accountViewSchema(fields);
  const view = publicView;
  const loadSelf = async (principal: Principal) => {
    const account = await accounts.findById(principal.userId);
    if (!account || account.status === 'withdrawn') throw new VigilError('NOT_FOUND', { what: 'Account' });
    return account;
  };

  return [
    defineRoute({
      method: 'POST',
      path: '/v1/accounts',
      summary: 'Sign up with a username, email and/or phone; optional password, profile and first device',
      tags: ['accounts'],
      schema: {
        body: signUpBodySchema(fields),
        response: { 201: Type.Object({ account: AccountSchema }), 400: E, 409: E, 429: E },
      },
    }).handle(async ({ body, info }) => {
      const { account } = await accounts.signUp(
        {
          username: body.username,
          email: body.email,
          phone: body.phone,
          password: body.password,
          ticket: body.ticket,
          locale: body.locale,
          profile: body.profile,
          device: body.device,
        },
        { ...requestContext(info), deviceId: body.device?.id ?? requestContext(info).deviceId },
      );
      return { status: 201, body: { account: view(account) } };
    }),

    defineRoute({
      method: 'GET',
      path: '/v1/accounts/availability',
      summary: 'Whether a username, email or phone is still free (rate-limited: it reveals existence)',
      tags: ['accounts'],
      schema: { query: AvailabilityQuery, response: { 200: AvailabilityReply, 400: E, 429: E } },
    }).handle(async ({ query, info }) => {
      const result = await prefixFields('query.', () => accounts.availability(query, requestContext(info)));
      return { status: 200, body: result };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/accounts/verification-link',
      summary: 'Send (again) the email verification link; same answer whether or not the address has an account',
      tags: ['accounts'],
      schema: { body: VerificationLinkBody, response: { 202: AcceptedReply, 400: E, 429: E } },
    }).handle(async ({ body, info }) => {
      await links.resend(body.email, body.locale, requestContext(info));
      return { status: 202, body: { status: 'accepted' as const } };
    }),

    defineRoute({
      method: 'GET',
      path: '/v1/accounts/verify-email',
      summary: 'Follow an email verification link: confirms the address and activates an unverified account',
      tags: ['accounts'],
      schema: { query: VerifyEmailQuery, response: { 200: VerifyEmailReply, 400: E } },
    }).handle(async ({ query, info }) => {
      const account = await links.consume(query.token, requestContext(info));
      return { status: 200, body: { status: 'verified' as const, accountStatus: account.status } };
    }),

    defineRoute({
      method: 'GET',
      path: '/v1/accounts/me',
      summary: 'The caller’s account',
      tags: ['accounts'],
      auth: userAuth,
      schema: { response: { 200: AccountSchema, 401: E, 404: E } },
    }).handle(async ({ auth }) => ({ status: 200, body: view(await loadSelf(auth)) })),

    defineRoute({
      method: 'PATCH',
      path: '/v1/accounts/me',
      summary: 'Change the caller’s username, locale or profile fields (null removes a field)',
      tags: ['accounts'],
      auth: userAuth,
      schema: { body: patchMeBodySchema(fields), response: { 200: AccountSchema, 400: E, 401: E, 404: E, 409: E } },
    }).handle(async ({ body, auth, info }) => {
      const updated = await accounts.updateProfile(
        auth.userId,
        { username: body.username, locale: body.locale, profile: body.profile },
        requestContext(info, auth.sessionId),
      );
      return { status: 200, body: view(updated) };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/accounts/me/withdraw',
      summary: 'Close the caller’s account: needs the password or a fresh code; anonymises data and ends every session',
      tags: ['accounts'],
      auth: userAuth,
      schema: { body: WithdrawBody, response: { 200: WithdrawReply, 400: E, 401: E, 404: E, 429: E } },
    }).handle(async ({ body, auth, info }) => {
      const { revokedSessions } = await withdrawal.withdraw(
        auth.userId,
        Withdrawal.proofFrom(body),
        requestContext(info, auth.sessionId),
      );
      return { status: 200, body: { status: 'withdrawn' as const, revokedSessions } };
    }),

    defineRoute({
      method: 'GET',
      path: '/v1/admin/accounts',
      summary: 'List accounts by status (default: all), oldest first',
      tags: ['admin', 'accounts'],
      auth: admin,
      schema: {
        query: AdminListQuery,
        response: {
          200: Type.Object({ accounts: Type.Array(AccountSchema), next: Type.Optional(Type.Integer()) }),
          400: E,
          401: E,
          403: E,
        },
      },
    }).handle(async ({ query }) => {
      const page = await accounts.list(query.status, query.limit + 1, query.after);
      const more = page.length > query.limit;
      const shown = page.slice(0, query.limit);
      const body: { accounts: ReturnType<typeof view>[]; next?: number } = { accounts: shown.map(view) };
      if (more) body.next = shown[shown.length - 1]!.number;
      return { status: 200, body };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/admin/accounts/:id/approve',
      summary: 'Approve a pending (or previously rejected) account',
      tags: ['admin', 'accounts'],
      auth: admin,
      body: { kind: 'json', optional: true },
      schema: {
        params: AccountIdParams,
        body: Type.Object({}, { additionalProperties: false }),
        response: { 200: AccountSchema, 401: E, 403: E, 404: E, 409: E },
      },
    }).handle(async ({ params, info }) => ({ status: 200, body: view(await accounts.approve(params.id, requestContext(info))) })),

    defineRoute({
      method: 'POST',
      path: '/v1/admin/accounts/:id/reject',
      summary: 'Reject a pending account (its logins get ACCOUNT_REJECTED)',
      tags: ['admin', 'accounts'],
      auth: admin,
      body: { kind: 'json', optional: true },
      schema: {
        params: AccountIdParams,
        body: RejectBody,
        response: { 200: AccountSchema, 400: E, 401: E, 403: E, 404: E, 409: E },
      },
    }).handle(async ({ params, body, info }) => ({
      status: 200,
      body: view(await accounts.reject(params.id, body.reason, requestContext(info))),
    })),
  ];
}
