import { requestContext } from '../../server/http/request-context.ts';
import { ErrorReply } from '../../../protocol/http/accounts.ts';
import { PasswordChangeBody, PasswordChangedReply, PasswordResetBody } from '../../../protocol/http/passwords.ts';
import { defineRoute, type Authenticator, type Route } from '../../server/http/route.ts';
import type { Principal } from '../../server/http/principal.ts';
import { PasswordService } from './password-service.ts';

const E = ErrorReply;

/** POST /v1/password/change (authenticated) and POST /v1/password/reset (code or ticket). */
export function passwordRoutes(deps: { passwords: PasswordService; userAuth: Authenticator<Principal> }): Route[] {
  const { passwords, userAuth } = deps;
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/password/change',
      summary: 'Change the password (needs the current one); every other session is revoked',
      tags: ['passwords'],
      auth: userAuth,
      schema: { body: PasswordChangeBody, response: { 200: PasswordChangedReply, 400: E, 401: E, 404: E, 429: E } },
    }).handle(async ({ body, auth, info }) => {
      const { revokedSessions } = await passwords.change(
        auth.userId,
        body.currentPassword,
        body.newPassword,
        requestContext(info, auth.sessionId),
      );
      return { status: 200, body: { status: 'changed' as const, revokedSessions } };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/password/reset',
      summary: 'Set a new password with a reset ticket, or the destination and code; every session is revoked',
      tags: ['passwords'],
      schema: { body: PasswordResetBody, response: { 200: PasswordChangedReply, 400: E, 429: E } },
    }).handle(async ({ body, info }) => {
      const { revokedSessions } = await passwords.reset(PasswordService.proofFrom(body), body.newPassword, requestContext(info));
      return { status: 200, body: { status: 'reset' as const, revokedSessions } };
    }),
  ];
}
