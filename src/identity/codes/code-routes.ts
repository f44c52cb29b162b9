import { requestContext } from '../../server/http/request-context.ts';
import { ErrorReply } from '../../../protocol/http/accounts.ts';
import { CodeRequestBody, CodeRequestReply, CodeVerifyBody, CodeVerifyReply } from '../../../protocol/http/codes.ts';
import { defineRoute, type Route } from '../../server/http/route.ts';
import type { CodeRequests } from './code-requests.ts';

const E = ErrorReply;

/** POST /v1/codes and POST /v1/codes/verify. */
export function codeRoutes(deps: { codeRequests: CodeRequests }): Route[] {
  const { codeRequests } = deps;
  return [
    defineRoute({
      method: 'POST',
      path: '/v1/codes',
      summary: 'Send a six-digit code by email or SMS; always 202, whether or not an account exists',
      tags: ['codes'],
      schema: { body: CodeRequestBody, response: { 202: CodeRequestReply, 400: E, 429: E, 503: E } },
    }).handle(async ({ body, info }) => {
      const result = await codeRequests.request(body, requestContext(info));
      return { status: 202, body: { status: 'accepted' as const, ...result } };
    }),

    defineRoute({
      method: 'POST',
      path: '/v1/codes/verify',
      summary: 'Check a code; returns a single-use ticket for the next step (purpose verify also confirms the destination)',
      tags: ['codes'],
      schema: { body: CodeVerifyBody, response: { 200: CodeVerifyReply, 400: E, 429: E } },
    }).handle(async ({ body, info }) => {
      const { ticket, expiresIn, account } = await codeRequests.verifyForTicket(body, requestContext(info));
      const verified =
        body.purpose === 'verify' &&
        account !== null &&
        (body.channel === 'email' ? account.emailVerifiedAt : account.phoneVerifiedAt) !== undefined;
      return { status: 200, body: { ticket, purpose: body.purpose, expiresIn, verified } };
    }),
  ];
}
