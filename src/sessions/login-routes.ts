import { requestContext } from '../server/http/request-context.ts';
import { VigilError } from '../../protocol/errors.ts';
import { accountViewSchema, type ProfileFieldSpec } from '../../protocol/http/accounts.ts';
import { ErrorBodySchema } from '../../protocol/http/common.ts';
import { LoginBody, MfaBody, MfaChallengeReply, TokenPairSchema } from '../../protocol/http/sessions.ts';
import { Type } from '@sinclair/typebox';
import { publicView } from '../identity/accounts/account-service.ts';
import { defineRoute, type Route } from '../server/http/route.ts';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import { loginRequestOf, type LoginRequest, type LoginService, type SecondFactorAnswer } from './login-service.ts';
import { MfaPasskeyOptionsBody, PasskeyLoginBody, PasskeyOptionsReply } from '../../protocol/http/passkeys.ts';

/** POST /v1/sessions: password, code or ticket login, and the second step of a two-step login. */
export function loginRoutes(deps: { login: LoginService; profileFields: readonly ProfileFieldSpec[] }): Route[] {
  const { login } = deps;
  const LoginReply = Type.Composite([
    TokenPairSchema,
    Type.Object({
      sessionId: Type.String(),
      user: accountViewSchema(deps.profileFields),
      mfaEnrolmentRequired: Type.Optional(
        Type.Literal(true, {
          description:
            'VIGIL_MFA_REQUIRE=everyone and the account has no second factor: this session can only enrol one (/v1/mfa, /v1/passkeys); log in again with it',
        }),
      ),
    }),
  ]);
  const failures = {
    400: ErrorBodySchema,
    401: ErrorBodySchema,
    403: ErrorBodySchema,
    409: ErrorBodySchema,
    429: ErrorBodySchema,
  };

  return [
    defineRoute({
      method: 'POST',
      path: '/v1/sessions',
      summary:
        'Log in with identifier + password, email/phone + one-time code, or a login ticket; an account with an authenticator app gets 202 and an MFA ticket',
      tags: ['sessions'],
      schema: { body: LoginBody, response: { 201: LoginReply, 202: MfaChallengeReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const request = loginRequestOf(body);
      const result = await login.login(request, requestContext(info));
      if ('mfa' in result) return { status: 202, body: result };
      const { account, session, tokens } = result;
      const restricted = result.mfaEnrolmentRequired ? { mfaEnrolmentRequired: true as const } : {};
      return {
        status: 201,
        body: { ...tokens, sessionId: session.id, user: publicView(account), ...restricted },
      };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/sessions/mfa',
      summary: 'The second step of a login: the MFA ticket with an authenticator code, a recovery code or a passkey assertion',
      tags: ['sessions'],
      schema: { body: MfaBody, response: { 201: LoginReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const given = [body.code, body.recoveryCode, body.passkey].filter((v) => v !== undefined).length;
      if (given !== 1) {
        throw new VigilError(
          'VALIDATION_FAILED',
          { summary: 'code: give exactly one of code, recoveryCode or passkey' },
          { details: [{ field: 'code', message: 'give exactly one of code, recoveryCode or passkey' }] },
        );
      }
      const answer: SecondFactorAnswer =
        body.code !== undefined
          ? { ticket: body.ticket, code: body.code }
          : body.passkey !== undefined
            ? { ticket: body.ticket, passkey: body.passkey as AuthenticationResponseJSON }
            : { ticket: body.ticket, recoveryCode: body.recoveryCode! };
      const { account, session, tokens } = await login.completeMfa(answer, requestContext(info));
      return { status: 201, body: { ...tokens, sessionId: session.id, user: publicView(account) } };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/sessions/passkey/options',
      summary: 'Start a username-less passkey login: options for navigator.credentials.get() (a single-use challenge)',
      tags: ['sessions', 'passkeys'],
      schema: { response: { 200: PasskeyOptionsReply, 429: ErrorBodySchema } },
    }).handle(async ({ info }) => ({ status: 200, body: await login.passkeyLoginOptions(requestContext(info)) })),

    defineRoute({
      method: 'POST',
      path: '/v1/sessions/passkey',
      summary: 'Log in with a passkey (discoverable credential) over the options of POST /v1/sessions/passkey/options',
      tags: ['sessions', 'passkeys'],
      schema: { body: PasskeyLoginBody, response: { 201: LoginReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const request: LoginRequest = { method: 'passkey', response: body.response as AuthenticationResponseJSON };
      if (body.device) request.device = body.device;
      const result = await login.login(request, requestContext(info));
      if ('mfa' in result) throw new VigilError('INTERNAL'); // a passkey login never asks for a second step
      const { account, session, tokens } = result;
      return { status: 201, body: { ...tokens, sessionId: session.id, user: publicView(account) } };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/sessions/mfa/passkey-options',
      summary: "Options for answering an MFA ticket with one of the account's passkeys (the challenge is bound to the ticket)",
      tags: ['sessions', 'passkeys'],
      schema: {
        body: MfaPasskeyOptionsBody,
        response: { 200: PasskeyOptionsReply, 400: ErrorBodySchema, 401: ErrorBodySchema, 429: ErrorBodySchema },
      },
    }).handle(async ({ body, info }) => ({
      status: 200,
      body: await login.passkeyMfaOptions(body.ticket, requestContext(info)),
    })),
  ];
}
