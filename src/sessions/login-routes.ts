import { requestContext } from '../server/http/request-context.ts';
import { VigilError } from '../../protocol/errors.ts';
import { accountViewSchema, type ProfileFieldSpec } from '../../protocol/http/accounts.ts';
import { ErrorBodySchema } from '../../protocol/http/common.ts';
import { LoginBody, MfaBody, MfaChallengeReply, TokenPairSchema } from '../../protocol/http/sessions.ts';
import { Type } from '@sinclair/typebox';
import { publicView } from '../identity/accounts/account-service.ts';
import { defineRoute, type Route } from '../server/http/route.ts';
import { loginRequestOf, type LoginService } from './login-service.ts';

/** POST /v1/sessions: password, code or ticket login, and the second step of a two-step login. */
export function loginRoutes(deps: { login: LoginService; profileFields: readonly ProfileFieldSpec[] }): Route[] {
  const { login } = deps;
  const LoginReply = Type.Composite([
    TokenPairSchema,
    Type.Object({ sessionId: Type.String(), user: accountViewSchema(deps.profileFields) }),
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
      return { status: 201, body: { ...tokens, sessionId: session.id, user: publicView(account) } };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/sessions/mfa',
      summary: 'The second step of a login: the MFA ticket with an authenticator code or a recovery code',
      tags: ['sessions'],
      schema: { body: MfaBody, response: { 201: LoginReply, ...failures } },
    }).handle(async ({ body, info }) => {
      if ((body.code === undefined) === (body.recoveryCode === undefined)) {
        throw new VigilError(
          'VALIDATION_FAILED',
          { summary: 'code: give exactly one of code or recoveryCode' },
          { details: [{ field: 'code', message: 'give exactly one of code or recoveryCode' }] },
        );
      }
      const answer =
        body.code !== undefined
          ? { ticket: body.ticket, code: body.code }
          : { ticket: body.ticket, recoveryCode: body.recoveryCode! };
      const { account, session, tokens } = await login.completeMfa(answer, requestContext(info));
      return { status: 201, body: { ...tokens, sessionId: session.id, user: publicView(account) } };
    }),
  ];
}
