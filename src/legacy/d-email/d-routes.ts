import { requestContext } from '../../server/http/request-context.ts';
import { randomBytes } from 'node:crypto';
import { VigilError } from '../../../protocol/errors.ts';
import {
  DAccessReply,
  DEmptyBody,
  DLoginBody,
  DMessage,
  DSignUpBody,
  DTokenPair,
  DVerifyQuery,
} from '../../../protocol/legacy/d-email.ts';
import type { Account } from '../../identity/accounts/account.ts';
import type { GatewayContext } from '../../server/context.ts';
import { defineRoute, type Route } from '../../server/http/route.ts';
import type { GatewayModule } from '../../server/gateway-module.ts';
import { sessionKind } from '../shared/dialects.ts';
import type { LegacyDeps } from '../shared/legacy-deps.ts';
import { secondsLeft } from '../shared/session-ttl.ts';
import { formatDError } from './d-errors.ts';

/** "해당 링크의 유효시간은 1분으로 Redis에서 자동으로 삭제 됩니다." */
export const D_LINK_TTL_SECONDS = 60;
export const D_REFRESH_KIND = 'legacy-d-refresh';
const TAGS = ['legacy D'];
const failures = {
  400: DMessage,
  401: DMessage,
  403: DMessage,
  409: DMessage,
  413: DMessage,
  415: DMessage,
  429: DMessage,
  503: DMessage,
};
/** What the token routes (optional form body, no login) can answer besides success. */
const tokenFailures = { 400: DMessage, 401: DMessage, 413: DMessage, 415: DMessage, 503: DMessage };

/** Django's urlsafe_base64_encode(force_bytes(pk)): base64url of the decimal user id, unpadded. */
export const uid64Of = (number: number) => Buffer.from(String(number)).toString('base64url');
const numberOf = (uid64: string) => {
  const text = Buffer.from(uid64, 'base64url').toString('utf8');
  return /^[1-9][0-9]{0,15}$/.test(text) ? Number(text) : undefined;
};

/** The raw token D clients put in Authorization; a scheme word in front is tolerated. */
const rawToken = (header: string | undefined) => header?.trim().replace(/^(Bearer|JWT|Token)\s+/i, '') || undefined;

/**
 * Dialect D (shared/seeds/D): email sign-up activated by a 1-minute link, login with an access
 * token (the core's) and a refresh token that D clients keep (it is not rotated), validate and
 * refresh with the raw token in Authorization.
 */
export function dialectD(ctx: GatewayContext, deps: LegacyDeps): GatewayModule {
  const { accounts, links, notifier } = deps.identity;
  const { passwords } = deps.flows;
  const { sessions, resolver } = deps.sessions;
  const publicUrl = ctx.config.VIGIL_PUBLIC_URL.replace(/\/+$/, '');
  const verifiedUrl = ctx.config.VIGIL_LEGACY_D_VERIFIED_URL;
  const minLength = ctx.config.VIGIL_LEGACY_PASSWORD_MIN_LENGTH;
  const linkFor = (account: Account) => (token: string) =>
    `${publicUrl}/auth/authentiaction/?token=${token}&uid64=${uid64Of(account.number)}`;

  const routes: Route[] = [
    defineRoute({
      method: 'POST',
      path: '/auth/authentiaction/',
      summary: 'D: sign up with email, password1, password2; mails a link valid for 1 minute',
      tags: TAGS,
      formatError: formatDError,
      schema: { body: DSignUpBody, response: { 200: DMessage, ...failures } },
    }).handle(async ({ body, info }) => {
      // Before anything is stored: an account nobody can activate helps no one.
      notifier.assertDeliverable('email');
      if (body.password1 !== body.password2) {
        throw new VigilError(
          'D_PASSWORDS_DIFFER',
          { field: 'password2' },
          { details: [{ field: 'password2', message: 'must equal password1' }] },
        );
      }
      const meta = requestContext(info);
      let account: Account;
      try {
        ({ account } = await accounts.signUp(
          {
            email: body.email,
            password: body.password1,
          },
          meta,
          { requireVerification: true, sendVerification: false, passwordMinLength: minLength },
        ));
      } catch (err) {
        if (!(err instanceof VigilError && err.code === 'CONFLICT')) throw err;
        // "다시 진행하세요": repeating the sign-up of a still-unverified account with its own password
        // sends a fresh link; anyone else is told the address is taken.
        const existing = await accounts.findByContact('email', accounts.normalize('email', body.email));
        if (!existing || existing.status !== 'unverified') throw err;
        await passwords.assertCurrentPassword(existing, body.password1, 'password1', meta, 'account.created').catch(() => {
          throw err;
        });
        account = existing;
      }
      await links.send(account, { ttlSeconds: D_LINK_TTL_SECONDS, url: linkFor(account) }, meta);
      return { status: 200, body: { message: `${body.email}로 인증 코드를 발송했습니다.` } };
    }),

    defineRoute({
      method: 'GET',
      path: '/auth/authentiaction/',
      summary: 'D: the emailed link; activates the account (redirects when VIGIL_LEGACY_D_VERIFIED_URL is set)',
      tags: TAGS,
      formatError: formatDError,
      schema: { query: DVerifyQuery, response: { 200: DMessage, 302: DMessage, 400: DMessage, 503: DMessage } },
    }).handle(async ({ query, info }) => {
      const number = numberOf(query.uid64);
      const owner = number === undefined ? null : await accounts.findByNumber(number);
      if (!owner) throw new VigilError('LINK_INVALID');
      const account = await links.consume(query.token, requestContext(info));
      if (account.id !== owner.id) throw new VigilError('LINK_INVALID');
      const message = '이메일 인증이 완료되었습니다.';
      return verifiedUrl
        ? { status: 302, body: { message }, headers: { location: verifiedUrl } }
        : { status: 200, body: { message } };
    }),

    defineRoute({
      method: 'POST',
      path: '/token/',
      summary: 'D: log in with email and password; answers access_token and refresh_token',
      tags: TAGS,
      formatError: formatDError,
      schema: { body: DLoginBody, response: { 200: DTokenPair, ...failures } },
    }).handle(async ({ body, info }) => {
      const { session } = await deps.login.loginForDialect(
        { method: 'password', identifier: body.email, password: body.password },
        requestContext(info),
        sessionKind('d'),
      );
      const access = await sessions.issueAccessToken(session);
      const refresh = randomBytes(32).toString('base64url');
      await sessions.attachToken(session, D_REFRESH_KIND, refresh, secondsLeft(session));
      return { status: 200, body: { access_token: access.token, refresh_token: refresh } };
    }),

    defineRoute({
      method: 'POST',
      path: '/token/validate/',
      summary: 'D: whether the access token in Authorization is valid (its session still live)',
      tags: TAGS,
      body: { kind: 'form', optional: true },
      formatError: formatDError,
      schema: { body: DEmptyBody, response: { 200: DMessage, ...tokenFailures } },
    }).handle(async ({ info }) => {
      const token = rawToken(info.headers.authorization);
      if (!token) throw new VigilError('TOKEN_MISSING');
      await resolver.resolve(token);
      return { status: 200, body: { message: '유효한 사용자입니다.' } };
    }),

    defineRoute({
      method: 'POST',
      path: '/token/refresh/',
      summary: 'D: a new access token for the refresh token in Authorization',
      tags: TAGS,
      body: { kind: 'form', optional: true },
      formatError: formatDError,
      schema: { body: DEmptyBody, response: { 200: DAccessReply, ...tokenFailures } },
    }).handle(async ({ info }) => {
      const token = rawToken(info.headers.authorization);
      if (!token) throw new VigilError('TOKEN_MISSING');
      const session = await sessions.resolveAttachedToken(D_REFRESH_KIND, token);
      if (!session) throw new VigilError('REFRESH_TOKEN_INVALID');
      const access = await sessions.issueAccessToken(session);
      return { status: 200, body: { access_token: access.token } };
    }),
  ];

  return { name: 'legacy-d', routes };
}
