import { randomUUID } from 'node:crypto';
import { VigilError } from '../../protocol/errors.ts';
import type { JwtSigner } from './jwt-signer.ts';
import type { JwtVerifier } from './jwt-verifier.ts';
import { systemClock, type Clock } from '../time/clock.ts';

/** The claims of a core access token (RFC 9068 shape plus `sid`). */
export interface AccessClaims {
  iss: string;
  aud: string;
  sub: string;
  /** Session the token belongs to; revoking it ends the token at once. */
  sid: string;
  jti: string;
  iat: number;
  exp: number;
  kid: string | undefined;
  /** RFC 8176 methods of the login behind the token (absent on tokens minted before amr existed). */
  amr?: string[];
}

export interface IssuedAccessToken {
  token: string;
  jti: string;
  /** Epoch seconds. */
  expiresAt: number;
  /** Lifetime from issuance, seconds (exp − iat): what OAuth's expires_in reports. */
  expiresIn: number;
}

export const ACCESS_TOKEN_TYP = 'at+jwt';

export interface AccessTokenOptions {
  issuer: string;
  audience: string;
  ttlSeconds: number;
  /** Where `iat` and `exp` come from (the system clock by default). */
  clock?: Clock;
}

/** Mints and checks core access tokens. Session liveness is the caller's business (see PrincipalResolver). */
export class AccessTokens {
  constructor(
    private readonly signer: JwtSigner,
    private readonly verifier: JwtVerifier,
    private readonly options: AccessTokenOptions,
  ) {}

  get ttlSeconds(): number {
    return this.options.ttlSeconds;
  }

  /**
   * A token for `userId` in `sessionId`, never outliving the session's absolute end
   * (`notAfter`, epoch seconds), so a cached verification cannot outlast its session.
   */
  async issue(userId: string, sessionId: string, notAfter?: number, amr?: readonly string[]): Promise<IssuedAccessToken> {
    const now = Math.floor((this.options.clock ?? systemClock).now() / 1000);
    const exp = Math.min(now + this.options.ttlSeconds, notAfter ?? Number.MAX_SAFE_INTEGER);
    const jti = randomUUID();
    const token = await this.signer.sign(
      {
        iss: this.options.issuer,
        aud: this.options.audience,
        sub: userId,
        sid: sessionId,
        jti,
        iat: now,
        exp,
        // RFC 8176: how the session's login authenticated the user (set at login, kept on refresh).
        ...(amr?.length ? { amr: [...amr] } : {}),
      },
      { typ: ACCESS_TOKEN_TYP },
    );
    return { token, jti, expiresAt: exp, expiresIn: exp - now };
  }

  /** Signature, algorithm, key, issuer, audience, typ and times; throws a TOKEN_* error otherwise. */
  async verify(token: string): Promise<AccessClaims> {
    const { header, claims } = await this.verifier.verify(token);
    const { sub, sid, jti } = claims as { sub?: unknown; sid?: unknown; jti?: unknown };
    if (typeof sub !== 'string' || typeof sid !== 'string' || typeof jti !== 'string' || !sub || !sid) {
      throw new VigilError('TOKEN_MALFORMED', { reason: 'sub, sid and jti must be non-empty strings' });
    }
    return {
      iss: claims.iss!,
      aud: this.options.audience,
      sub,
      sid,
      jti,
      iat: claims.iat!,
      exp: claims.exp!,
      kid: header.kid,
      ...(Array.isArray(claims.amr) && claims.amr.every((m) => typeof m === 'string') ? { amr: claims.amr } : {}),
    };
  }
}
