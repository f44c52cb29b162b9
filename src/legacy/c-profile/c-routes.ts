import { requestContext } from '../../server/http/request-context.ts';
import { VigilError } from '../../../protocol/errors.ts';
import {
  CDetailReply,
  CErrorReply,
  CLogoutBody,
  CMobileBody,
  CPairReply,
  CRefreshBody,
  CRegistrationBody,
  CSessionReply,
  CTokenBody,
} from '../../../protocol/legacy/c-profile.ts';
import type { Account } from '../../identity/accounts/account.ts';
import { enforceLimit } from '../../rate-limits/enforce-limit.ts';
import type { RateLimiter } from '../../rate-limits/rate-limiter.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import { defineRoute, type Route } from '../../server/http/route.ts';
import type { TokenPair } from '../../sessions/session-service.ts';
import { sessionKind } from '../shared/dialects.ts';
import type { LegacyDeps } from '../shared/legacy-deps.ts';
import type { Catalogue } from './catalogue.ts';
import { formatCError } from './c-errors.ts';
import type { CProfiles } from './c-profiles.ts';
import { cUser, type MediaUrls } from './c-views.ts';
import { shortUuid } from './short-uuid.ts';
import type { UploadRef, UploadStore } from './uploads/upload-store.ts';
import { clientKey } from '../../rate-limits/client-key.ts';

const TAGS = ['legacy C'];
// 413/415: the router refuses oversize bodies and unknown content types before the handler runs.
const failures = {
  400: CErrorReply,
  401: CErrorReply,
  403: CErrorReply,
  404: CErrorReply,
  406: CErrorReply,
  413: CErrorReply,
  415: CErrorReply,
  429: CErrorReply,
  503: CErrorReply,
};

export interface CRouteDeps extends LegacyDeps {
  audit: AuditLog;
  rateLimiter: RateLimiter;
  /** VIGIL_SIGNUP_PER_IP_HOURLY */
  signupPerIpHourly: number;
  catalogue: Catalogue;
  profiles: CProfiles;
  uploads: UploadStore;
  media: MediaUrls;
}

/** Dialect C's account routes: registration, SMS login in two steps, refresh, logout. */
export function cAccountRoutes(deps: CRouteDeps): Route[] {
  const { accounts, codeRequests } = deps.identity;
  const { sessions } = deps.sessions;
  const { catalogue, profiles, uploads, media } = deps;
  const userOf = async (account: Account) => cUser(account, await profiles.get(account.id), catalogue, media);
  const pair = (tokens: TokenPair) => ({ access: tokens.accessToken, refresh: tokens.refreshToken });

  return [
    defineRoute({
      method: 'POST',
      path: '/api/registration/',
      summary: 'C: register with the full profile; the account waits for operator approval',
      tags: TAGS,
      body: { kind: 'form' },
      formatError: formatCError,
      schema: { body: CRegistrationBody, response: { 201: CSessionReply, ...failures } },
    }).handle(async ({ body, info }) => {
      // Before the catalogue and upload checks (which may ask the S3 store), like the core sign-up limit.
      await enforceLimit(deps.rateLimiter, `legacy:c:registration:ip:${clientKey(info.ip)}`, {
        limit: deps.signupPerIpHourly,
        windowSeconds: 3600,
      });
      const interests = body.interests ?? [];
      const profession = body.profession ?? null;
      await catalogue.assertKnown('interests', interests, 'interests');
      if (profession) await catalogue.assertKnown('professions', [profession], 'profession');
      const refs: UploadRef[] = [
        ...(body.avatar ? [{ field: 'avatar', path: body.avatar }] : []),
        ...(body.profile ? [{ field: 'profile', path: body.profile }] : []),
        ...(body.verification_files ?? []).map((f) => ({ field: 'verification_files', path: f.original })),
      ];
      await uploads.assertUploaded(refs);
      const holder = await uploads.claim(refs);
      const meta = requestContext(info);
      let account: Account;
      try {
        ({ account } = await accounts.signUp(
          {
            username: body.username,
            phone: body.mobile,
            profile: { name: body.name, gender: body.gender, birthDate: body.birth },
          },
          meta,
          // C's document: a registration waits for an operator (status "pending"; 1006 until then).
          { requireApproval: true, sendVerification: false },
        ));
      } catch (err) {
        await uploads.release(holder);
        throw err;
      }
      await profiles.insert({
        _id: account.id,
        uuid: shortUuid(account.id),
        carrier: body.carrier,
        foreigner: body.foreigner,
        interests,
        profession,
        avatar: body.avatar ?? null,
        profile: body.profile ?? null,
        verificationFiles: body.verification_files ?? [],
        uniqueInSite: body.unique_in_site,
        uniqueKey: body.unique_key,
        createdAt: new Date(),
      });
      await uploads.finish(holder, account.id, refs);
      // C answers a registration with a token pair, as its clients expect (docs/legacy.md).
      const { session, tokens } = await sessions.start({
        userId: account.id,
        kind: sessionKind('c'),
        ip: meta.ip,
        userAgent: meta.userAgent,
      });
      await deps.audit.record('login.succeeded', 'success', {
        ...meta,
        userId: account.id,
        sessionId: session.id,
        detail: { method: 'registration', kind: session.kind },
      });
      return { status: 201, body: { ...pair(tokens), user: await userOf(account) } };
    }),

    defineRoute({
      method: 'POST',
      path: '/api/auth/mobile/',
      summary: 'C: login step 1 — text a login code to a registered, approved mobile number',
      tags: TAGS,
      body: { kind: 'form' },
      formatError: formatCError,
      schema: { body: CMobileBody, response: { 200: CDetailReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const phone = accounts.normalize('phone', body.mobile, 'mobile');
      const account = await accounts.findByContact('sms', phone);
      // Documented: non-members (404), pending (406) and rejected (403) are told so.
      if (!account) throw new VigilError('NOT_FOUND', { what: 'Account' });
      if (account.status === 'pending' || account.status === 'rejected') throw accounts.loginBlocker(account)!;
      await codeRequests.request({ channel: 'sms', to: phone, purpose: 'login' }, requestContext(info));
      return { status: 200, body: { detail: 'We texted you a login code.' } };
    }),

    defineRoute({
      method: 'POST',
      path: '/api/token/',
      summary: 'C: login step 2 — the texted code for an access + refresh pair',
      tags: TAGS,
      body: { kind: 'form' },
      formatError: formatCError,
      schema: { body: CTokenBody, response: { 200: CSessionReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const { account, tokens } = await deps.login.loginOneStep(
        { method: 'code', channel: 'sms', to: body.mobile, code: body.token },
        requestContext(info),
        { kind: sessionKind('c') },
      );
      return { status: 200, body: { ...pair(tokens), user: await userOf(account) } };
    }),

    defineRoute({
      method: 'POST',
      path: '/api/token/refresh/',
      summary: 'C: a new access + refresh pair for a refresh token (single use)',
      tags: TAGS,
      body: { kind: 'form' },
      formatError: formatCError,
      schema: { body: CRefreshBody, response: { 200: CPairReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const { tokens } = await sessions.refresh(body.refresh, requestContext(info));
      return { status: 200, body: pair(tokens) };
    }),

    defineRoute({
      method: 'POST',
      path: '/api/logout/',
      summary: 'C: log out by the refresh token (body, or a `refresh` header); its session ends',
      tags: TAGS,
      body: { kind: 'form', optional: true },
      formatError: formatCError,
      schema: { body: CLogoutBody, response: { 200: CDetailReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const refresh = body.refresh ?? info.headers.refresh ?? info.headers['x-refresh-token'];
      if (!refresh) throw new VigilError('TOKEN_MISSING');
      if (!(await sessions.revokeByRefreshToken(refresh, 'logout', requestContext(info))))
        throw new VigilError('REFRESH_TOKEN_INVALID');
      return { status: 200, body: { detail: 'Successfully logged out.' } };
    }),
  ];
}
