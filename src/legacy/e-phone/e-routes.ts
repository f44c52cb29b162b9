import { requestContext } from '../../server/http/request-context.ts';
import { VigilError } from '../../../protocol/errors.ts';
import {
  EBooleanReply,
  EFailure,
  ENumBody,
  ENumberReply,
  ENumFindOrPasswordBody,
  ENumFindReply,
  EPasswordChangeBody,
  ESignInBody,
  ESignUpBody,
  ESmsCheckBody,
  ESmsRequestBody,
  ETokenReply,
} from '../../../protocol/legacy/e-phone.ts';
import { Type, type Static } from '@sinclair/typebox';
import type { DeviceInfo } from '../../identity/devices/device-store.ts';
import type { GatewayContext } from '../../server/context.ts';
import { defineRoute, type RequestInfo, type Route } from '../../server/http/route.ts';
import type { GatewayModule } from '../../server/gateway-module.ts';
import { eddsaSigner } from '../../tokens/jwt-signer.ts';
import { sessionKind } from '../shared/dialects.ts';
import { heldProofsFor } from '../shared/held-proofs.ts';
import type { LegacyDeps } from '../shared/legacy-deps.ts';
import { eOk, formatEError } from './e-envelope.ts';
import { E_TOKEN_KIND, ETokens } from './e-tokens.ts';

/** How long a passed sms_auth_res allows a password change by user id ("the last few minutes"). */
export const E_SMS_PROOF_SECONDS = 300;
const TAGS = ['legacy E'];
const failures = { 429: EFailure, 503: EFailure };

/**
 * Dialect E (shared/seeds/E): phone accounts. exists / num_find answer about a number, signup
 * takes the device, signin answers a JWT in data.item, sms_auth_req / sms_auth_res prove a phone
 * on the core code service, and a password change by user id requires that proof (docs/legacy.md).
 */
export function dialectE(ctx: GatewayContext, deps: LegacyDeps): GatewayModule {
  const { accounts, codeRequests, tickets } = deps.identity;
  const { passwords } = deps.flows;
  const tokens = new ETokens(eddsaSigner(deps.sessions.keys), deps.sessions.sessions, {
    issuer: ctx.config.VIGIL_JWT_ISSUER,
    ttlSeconds: ctx.config.VIGIL_LEGACY_TOKEN_TTL_SECONDS,
  });
  const proofs = heldProofsFor(ctx, 'e');
  // E's resource servers verify with the JWKS; introspection is how they can see a session end.
  deps.sessions.sessions.allowIntrospection(E_TOKEN_KIND);
  const minLength = ctx.config.VIGIL_LEGACY_PASSWORD_MIN_LENGTH;
  const phoneOf = (value: string, field: string) => accounts.normalize('phone', value, field);

  /** Registered? Rate-limited per IP like the core availability check (the answer reveals it). */
  const registered = async (num: string, info: RequestInfo): Promise<boolean> => {
    const result = await accounts.availability({ phone: num }, requestContext(info));
    return result.phone?.available === false;
  };

  const numFind = async (body: Static<typeof ENumBody>, info: RequestInfo) => {
    if (!(await registered(body.num, info))) return eOk<number | false>([false]);
    const account = await accounts.findByContact('sms', phoneOf(body.num, 'num'));
    return eOk<number | false>([account ? account.number : false]);
  };

  const passwordChange = async (body: Static<typeof EPasswordChangeBody>, info: RequestInfo) => {
    const meta = requestContext(info);
    // The document's change names only a user id; it is honoured only for the client whose
    // sms_auth_res just proved that account's phone (limited per client and per id before any
    // lookup), and goes through the core reset (policy, every session ended, audit).
    const proof = await proofs.claim('reset', String(body.id), meta);
    const account = proof ? await accounts.findByNumber(body.id) : null;
    if (!account || !proof || account.status === 'withdrawn')
      throw new VigilError('E_SMS_PROOF_REQUIRED', { seconds: E_SMS_PROOF_SECONDS });
    await passwords.reset({ ticket: proof.ticket }, body.password, meta, { minLength });
    await proofs.drop('reset', String(body.id));
    return eOk([true]);
  };

  const post = <S extends Parameters<typeof defineRoute>[0]['schema']>(path: string, summary: string, schema: S) =>
    defineRoute({
      method: 'POST',
      path: `/api/v1/auth/${path}`,
      summary: `E: ${summary}`,
      tags: TAGS,
      formatError: formatEError,
      schema,
    });

  const routes: Route[] = [
    post('exists', 'whether a phone number is registered', {
      body: ENumBody,
      response: { 200: EBooleanReply, ...failures },
    }).handle(async ({ body, info }) => ({ status: 200, body: eOk([await registered(body.num, info)]) })),

    post('signup', 'sign up with phone number, password and device', {
      body: ESignUpBody,
      response: { 200: ENumberReply, ...failures },
    }).handle(async ({ body, info }) => {
      const phone = phoneOf(body.num, 'num');
      const device: DeviceInfo | undefined = body.device_id
        ? {
            id: body.device_id,
            pushToken: body.device_token,
            platform: body.device_platform,
            brand: body.device_brand,
            model: body.device_model,
            osVersion: body.device_version,
          }
        : undefined;
      if (device)
        for (const key of Object.keys(device) as (keyof DeviceInfo)[]) if (device[key] === undefined) delete device[key];
      // A number proven by sms_auth_res just before, by this same client, starts verified.
      const meta = requestContext(info);
      const proof = await proofs.claim('signup', phone, meta);
      const { account } = await accounts.signUp(
        { phone: body.num, password: body.password, ticket: proof?.ticket, device },
        { ...meta, deviceId: body.device_id },
        { passwordMinLength: minLength },
      );
      if (proof) await proofs.drop('signup', phone);
      return { status: 200, body: eOk([account.number]) };
    }),

    post('signin', 'sign in with phone number and password; data.item is a JWT', {
      body: ESignInBody,
      response: { 200: ETokenReply, ...failures },
    }).handle(async ({ body, info }) => {
      const { account, session } = await deps.login.loginForDialect(
        { method: 'password', identifier: body.num, password: body.password },
        requestContext(info),
        sessionKind('e'),
      );
      return { status: 200, body: eOk([await tokens.issue(account, session)]) };
    }),

    post('sms_auth_req', 'text a code to a phone number', {
      body: ESmsRequestBody,
      response: { 200: EBooleanReply, ...failures },
    }).handle(async ({ body, info }) => {
      const phone = phoneOf(body.receiver, 'receiver');
      // A registered number is being proven (verification, password change); a free one is signing up.
      const purpose = (await accounts.findByContact('sms', phone)) ? 'verify' : 'signup';
      await codeRequests.request({ channel: 'sms', to: phone, purpose }, requestContext(info));
      return { status: 200, body: eOk([true]) };
    }),

    post('sms_auth_res', 'check the texted code; item [false] when it is wrong or expired', {
      body: ESmsCheckBody,
      response: { 200: EBooleanReply, ...failures },
    }).handle(async ({ body, info }) => {
      const phone = phoneOf(body.num, 'num');
      const code = String(body.auth_num).padStart(6, '0');
      const meta = requestContext(info);
      const account = await accounts.findByContact('sms', phone);
      try {
        if (account) {
          // Marks the phone verified, then holds the core's proof for a password change by user id.
          await codeRequests.verifyCode({ channel: 'sms', to: phone, purpose: 'verify', code }, meta);
          const { ticket, expiresIn } = await tickets.issue({ purpose: 'reset', channel: 'sms', to: phone });
          await proofs.hold('reset', String(account.number), ticket, Math.min(expiresIn, E_SMS_PROOF_SECONDS), meta);
        } else {
          const { ticket, expiresIn } = await codeRequests.verifyForTicket(
            { channel: 'sms', to: phone, purpose: 'signup', code },
            meta,
          );
          await proofs.hold('signup', phone, ticket, Math.min(expiresIn, E_SMS_PROOF_SECONDS), meta);
        }
      } catch (err) {
        if (err instanceof VigilError && (err.code === 'CODE_INVALID' || err.code === 'CODE_EXHAUSTED'))
          return { status: 200, body: eOk([false]) };
        throw err;
      }
      return { status: 200, body: eOk([true]) };
    }),

    post('num_find', 'the user id of a phone number, or (body {id, password}) the password change', {
      body: ENumFindOrPasswordBody,
      response: { 200: Type.Union([ENumFindReply, EBooleanReply]), ...failures },
    }).handle(async ({ body, info }) => ({
      status: 200,
      body: 'id' in body ? await passwordChange(body, info) : await numFind(body, info),
    })),

    post('password_change', 'change the password of a user id whose phone just passed sms_auth_res', {
      body: EPasswordChangeBody,
      response: { 200: EBooleanReply, ...failures },
    }).handle(async ({ body, info }) => ({ status: 200, body: await passwordChange(body, info) })),
  ];

  return { name: 'legacy-e', routes };
}
