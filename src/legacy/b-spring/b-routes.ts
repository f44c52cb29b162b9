import { requestContext } from '../../server/http/request-context.ts';
import { VigilError } from '../../../protocol/errors.ts';
import {
  BAuthIdParams,
  BCheckAuthCodeBody,
  BEmailParams,
  BError,
  BResetPasswordBody,
  BSendAuthKeyBody,
  BSignInBody,
  BSignInReply,
  BSignUpBody,
  BSignUpReply,
  BStateReply,
  BStatusReply,
  BUsableReply,
  BUserIdReply,
} from '../../../protocol/legacy/b-spring.ts';
import type { Availability } from '../../identity/accounts/account-service.ts';
import { usernameKey, type IdentifierKind } from '../../identity/accounts/identifiers.ts';
import type { CodePurpose } from '../../identity/codes/one-time-codes.ts';
import { ConfigError } from '../../config/config.ts';
import type { GatewayContext } from '../../server/context.ts';
import { defineRoute, type RequestInfo, type Route } from '../../server/http/route.ts';
import type { GatewayModule } from '../../server/gateway-module.ts';
import { sessionKind } from '../shared/dialects.ts';
import { heldProofsFor } from '../shared/held-proofs.ts';
import type { LegacyDeps } from '../shared/legacy-deps.ts';
import { bErrorFormatter } from './b-errors.ts';
import { B_TOKEN_KIND, BTokens } from './b-tokens.ts';

/** "회원가입의 경우 같은 타입의 요청, 10분 이내의 요청 일 경우 정상적인 인증 코드로 판단" */
const CODE_TTL_SECONDS = 600;
const TAGS = ['legacy B'];
const failures = { 400: BError, 503: BError };
const PURPOSE: Record<'SIGN_UP' | 'FORGET_PASSWORD', CodePurpose> = { SIGN_UP: 'signup', FORGET_PASSWORD: 'reset' };

/**
 * Dialect B (shared/seeds/B): sign-up, sign-in (HS512 JWT), withdrawal, id/email availability,
 * auth codes by email for SIGN_UP and FORGET_PASSWORD, password reset by numeric user id + code.
 */
export function dialectB(ctx: GatewayContext, deps: LegacyDeps): GatewayModule {
  const secret = ctx.config.VIGIL_LEGACY_B_JWT_SECRET;
  if (!secret) {
    throw new ConfigError([
      'VIGIL_LEGACY_B_JWT_SECRET: required when VIGIL_LEGACY_DIALECTS includes b (HS512 secret, at least 64 bytes)',
    ]);
  }
  const { accounts, codeRequests } = deps.identity;
  const { passwords, withdrawal } = deps.flows;
  const tokens = new BTokens(deps.sessions.sessions, ctx.config.VIGIL_LEGACY_TOKEN_TTL_SECONDS);
  // B's resource servers verify offline; introspection is how they can see a session end.
  deps.sessions.sessions.allowIntrospection(B_TOKEN_KIND);
  const proofs = heldProofsFor(ctx, 'b');
  const minLength = ctx.config.VIGIL_LEGACY_PASSWORD_MIN_LENGTH;
  const formatError = bErrorFormatter();

  /** Whether an id or email is free; one that cannot be an account's is simply not usable. */
  const usable = async (kind: IdentifierKind, value: string, info: RequestInfo): Promise<boolean> => {
    let result: Availability;
    try {
      result = await accounts.availability({ [kind]: value }, requestContext(info));
    } catch (err) {
      if (err instanceof VigilError && err.code === 'VALIDATION_FAILED') return false;
      throw err;
    }
    return result[kind]?.available === true;
  };

  const checkAuthCode = async (body: typeof BCheckAuthCodeBody.static, info: RequestInfo) => {
    const email = accounts.normalize('email', body.email, 'email');
    const purpose = PURPOSE[body.type];
    const meta = requestContext(info);
    try {
      const { ticket, expiresIn } = await codeRequests.verifyForTicket(
        { channel: 'email', to: email, purpose, code: body.authCode },
        meta,
      );
      // Held for this client's next step: sign-up (by email) or reset (by user id and the same code).
      await proofs.hold(
        purpose,
        email,
        ticket,
        Math.min(expiresIn, CODE_TTL_SECONDS),
        meta,
        purpose === 'reset' ? body.authCode : undefined,
      );
      return true;
    } catch (err) {
      if (err instanceof VigilError && (err.code === 'CODE_INVALID' || err.code === 'CODE_EXHAUSTED')) return false;
      throw err;
    }
  };

  const checkAuthCodeRoute = (method: 'GET' | 'POST') =>
    defineRoute({
      method,
      path: '/api/auth/check/auth-code',
      summary: `B: check an emailed auth code (the document says GET with a JSON body; POST works too)`,
      tags: TAGS,
      formatError,
      schema: { body: BCheckAuthCodeBody, response: { 200: BUsableReply, ...failures } },
    }).handle(async ({ body, info }) => ({
      status: 200,
      body: { data: { usable: await checkAuthCode(body, info) }, error: null },
    }));

  const routes: Route[] = [
    defineRoute({
      method: 'POST',
      path: '/api/auth/sign-up',
      summary: 'B: sign up with authId, password, name and email',
      tags: TAGS,
      formatError,
      schema: { body: BSignUpBody, response: { 200: BSignUpReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const email = accounts.normalize('email', body.email, 'email');
      // An email proven by check/auth-code (SIGN_UP) within 10 minutes, by this same client, starts verified.
      const proof = await proofs.claim('signup', email, requestContext(info));
      const { account } = await accounts.signUp(
        {
          username: body.authId,
          email: body.email,
          password: body.password,
          profile: { name: body.name },
          ticket: proof?.ticket,
        },
        requestContext(info),
        { passwordMinLength: minLength },
      );
      if (proof) await proofs.drop('signup', email);
      return { status: 200, body: { data: { id: account.number, name: account.profile.name ?? body.name }, error: null } };
    }),

    defineRoute({
      method: 'POST',
      path: '/api/auth/sign-in',
      summary: 'B: sign in with authId and password; answers an HS512 JWT',
      tags: TAGS,
      formatError,
      schema: { body: BSignInBody, response: { 200: BSignInReply, ...failures } },
    }).handle(async ({ body, info }) => {
      let login;
      try {
        login = await deps.login.loginForDialect(
          { method: 'password', identifier: body.authId, password: body.password },
          requestContext(info),
          sessionKind('b'),
        );
      } catch (err) {
        // B's document tells an unknown id from a wrong password; its availability check reveals as much.
        if (err instanceof VigilError && err.code === 'LOGIN_FAILED' && !(await accounts.findByIdentifier(body.authId))) {
          throw new VigilError('NOT_FOUND', { what: 'Account' });
        }
        throw err;
      }
      const { account, session } = login;
      const token = await tokens.issue(account, session);
      return {
        status: 200,
        body: {
          data: { id: account.number, name: account.profile.name ?? '', authId: account.username ?? body.authId, token },
          error: null,
        },
      };
    }),

    defineRoute({
      method: 'POST',
      path: '/api/auth/withdrawal',
      summary: 'B: withdraw with authId and password',
      tags: TAGS,
      formatError,
      schema: { body: BSignInBody, response: { 200: BStatusReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const account = await accounts.findByIdentifier(body.authId);
      if (!account || account.status === 'withdrawn') throw new VigilError('NOT_FOUND', { what: 'Account' });
      await withdrawal.withdraw(account.id, { password: body.password }, requestContext(info));
      return { status: 200, body: { data: { status: true }, error: null } };
    }),

    defineRoute({
      method: 'GET',
      path: '/api/auth/check/auth-id/:authId',
      summary: 'B: whether an authId is free',
      tags: TAGS,
      formatError,
      schema: { params: BAuthIdParams, response: { 200: BUsableReply, ...failures } },
    }).handle(async ({ params, info }) => ({
      status: 200,
      body: { data: { usable: await usable('username', params.authId, info) }, error: null },
    })),

    defineRoute({
      method: 'GET',
      path: '/api/auth/check/email/:email',
      summary: 'B: whether an email is free',
      tags: TAGS,
      formatError,
      schema: { params: BEmailParams, response: { 200: BUsableReply, ...failures } },
    }).handle(async ({ params, info }) => ({
      status: 200,
      body: { data: { usable: await usable('email', params.email, info) }, error: null },
    })),

    defineRoute({
      method: 'POST',
      path: '/api/auth/send/auth-key',
      summary: 'B: email an auth code for SIGN_UP or FORGET_PASSWORD (valid 10 minutes)',
      tags: TAGS,
      formatError: bErrorFormatter({ CONFLICT: '이미 존재 하는 이메일' }),
      schema: { body: BSendAuthKeyBody, response: { 200: BStateReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const email = accounts.normalize('email', body.email, 'email');
      const account = await accounts.findByContact('email', email);
      if (body.type === 'SIGN_UP') {
        // Documented: an email already registered is refused by name (check/email tells as much).
        if (account) throw new VigilError('CONFLICT', { field: 'email' });
        await codeRequests.request(
          { channel: 'email', to: email, purpose: 'signup', ttlSeconds: CODE_TTL_SECONDS },
          requestContext(info),
        );
      } else {
        // Same answer whatever the email and id name; a code goes out only when they belong together.
        const sameAccount =
          body.authId === undefined ||
          !account ||
          (account.username !== undefined && usernameKey(account.username) === usernameKey(body.authId));
        if (sameAccount)
          await codeRequests.request(
            { channel: 'email', to: email, purpose: 'reset', ttlSeconds: CODE_TTL_SECONDS },
            requestContext(info),
          );
      }
      return { status: 200, body: { data: { state: true }, error: null } };
    }),

    checkAuthCodeRoute('GET'),
    checkAuthCodeRoute('POST'),

    defineRoute({
      method: 'POST',
      path: '/api/auth/reset/password',
      summary: 'B: set a new password with the numeric userId and the FORGET_PASSWORD code',
      tags: TAGS,
      formatError,
      schema: { body: BResetPasswordBody, response: { 200: BUserIdReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const account = await accounts.findByNumber(body.userId);
      // An unknown user id gets the same answer as a wrong code.
      if (!account?.email || account.status === 'withdrawn') throw new VigilError('CODE_INVALID');
      const meta = requestContext(info);
      // Limited per client and per email before the code is compared; wrong codes wear the proof out.
      const held = await proofs.claim('reset', account.email, meta, body.authCode);
      if (held) {
        // check/auth-code already spent the code on a ticket; the same code now spends the ticket.
        await passwords.reset({ ticket: held.ticket }, body.newPassword, meta, { minLength });
        await proofs.drop('reset', account.email);
      } else {
        await passwords.reset({ channel: 'email', to: account.email, code: body.authCode }, body.newPassword, meta, {
          minLength,
        });
      }
      return { status: 200, body: { data: { userId: account.number }, error: null } };
    }),
  ];

  return {
    name: 'legacy-b',
    routes,
    async start() {
      await tokens.start(secret);
    },
  };
}
