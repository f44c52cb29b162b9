import { requestContext } from '../../server/http/request-context.ts';
import {
  ACreateBody,
  ACreateReply,
  ADetailReply,
  AErrorReply,
  ALoginBody,
  ALoginReply,
} from '../../../protocol/legacy/a-realtime.ts';
import type { GatewayContext } from '../../server/context.ts';
import { defineRoute, type Route } from '../../server/http/route.ts';
import type { GatewayModule } from '../../server/gateway-module.ts';
import { sessionKind } from '../shared/dialects.ts';
import type { LegacyDeps } from '../shared/legacy-deps.ts';
import { aBiometricRoutes } from './a-biometric-routes.ts';
import { formatAError } from './a-errors.ts';
import { ATokens } from './a-tokens.ts';
import { aLoginUser, aUser } from './a-views.ts';

const TAGS = ['legacy A'];
// 413/415: the router refuses oversize bodies and unknown content types before the handler runs.
const failures = {
  400: AErrorReply,
  401: AErrorReply,
  403: AErrorReply,
  413: AErrorReply,
  415: AErrorReply,
  429: AErrorReply,
  503: AErrorReply,
};

/**
 * Dialect A (shared/seeds/A): members create, log in (40-hex token) and log out; make_model and
 * check_user over the biometric service (a-biometric-routes.ts).
 */
export function dialectA(ctx: GatewayContext, deps: LegacyDeps): GatewayModule {
  const { accounts } = deps.identity;
  const tokens = new ATokens(deps.sessions.sessions);
  const minLength = ctx.config.VIGIL_LEGACY_PASSWORD_MIN_LENGTH;

  const routes: Route[] = [
    defineRoute({
      method: 'POST',
      path: '/server/members/create/',
      summary: 'A: sign up with username, password, name, gender, age',
      tags: TAGS,
      body: { kind: 'form' },
      formatError: formatAError,
      schema: { body: ACreateBody, response: { 200: ACreateReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const profile: Record<string, unknown> = { name: body.name, gender: body.gender, age: body.age };
      const { account } = await accounts.signUp(
        {
          username: body.username,
          password: body.password,
          profile,
        },
        requestContext(info),
        // A's accounts have no email or phone to confirm; enabling A accepts that (docs/legacy.md).
        { passwordMinLength: minLength, requireVerification: false },
      );
      return { status: 200, body: { user: aUser(account) } };
    }),

    defineRoute({
      method: 'POST',
      path: '/server/members/login/',
      summary: 'A: log in; answers an opaque token for Authorization: Token <token>',
      tags: TAGS,
      body: { kind: 'form' },
      formatError: formatAError,
      schema: { body: ALoginBody, response: { 200: ALoginReply, ...failures } },
    }).handle(async ({ body, info }) => {
      const { account, session } = await deps.login.loginForDialect(
        { method: 'password', identifier: body.username, password: body.password },
        requestContext(info),
        sessionKind('a'),
      );
      return { status: 200, body: { token: await tokens.issue(session), user: aLoginUser(account) } };
    }),

    defineRoute({
      method: 'GET',
      path: '/server/members/logout/',
      summary: 'A: log out (ends the session of Authorization: Token <token>)',
      tags: TAGS,
      formatError: formatAError,
      schema: { response: { 200: ADetailReply, 401: AErrorReply, 503: AErrorReply } },
    }).handle(async ({ info }) => {
      const session = await tokens.fromHeader(info.headers.authorization);
      await deps.sessions.sessions.revoke(session.userId, session.id, 'logout', requestContext(info, session.id));
      return { status: 200, body: { detail: '로그아웃 되었습니다.' } };
    }),
  ];

  if (deps.biometrics && deps.ownerChanges) {
    routes.push(
      ...aBiometricRoutes({
        biometrics: deps.biometrics,
        owner: deps.ownerChanges,
        tokens,
        defaultRate: ctx.config.VIGIL_BIOMETRIC_DEFAULT_RATE,
        waitSeconds: ctx.config.VIGIL_LEGACY_A_MODEL_WAIT_SECONDS,
      }),
    );
  }
  return { name: 'legacy-a', routes };
}
