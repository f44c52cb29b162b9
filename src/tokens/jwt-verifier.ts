import { decodeProtectedHeader, errors, jwtVerify, type CryptoKey, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import { VigilError } from '../../protocol/errors.ts';
import type { KeyRing } from './key-ring.ts';
import { systemClock, type Clock } from '../time/clock.ts';

/** What every verification pins. Nothing here is taken from the token itself. */
export interface JwtPolicy {
  algorithms: ReadonlyArray<'EdDSA' | 'HS512'>;
  issuer?: string;
  audience?: string;
  /** Required `typ` header (e.g. at+jwt), so one kind of token cannot stand in for another. */
  typ?: string;
  clockToleranceSeconds: number;
  /** Claims that must be present besides `exp` and `iat`. */
  requiredClaims: readonly string[];
  /** What `exp`, `nbf` and `iat` are checked against (the system clock by default). */
  clock?: Clock;
}

export interface VerifiedJwt {
  header: ProtectedHeaderParameters;
  claims: JWTPayload;
}

export interface JwtVerifier {
  /** The verified header and claims, or a catalogued TOKEN_* error saying exactly what is wrong. */
  verify(token: string): Promise<VerifiedJwt>;
}

/** Picks the key for a token whose header passed the algorithm check; throws TOKEN_KID_UNKNOWN and friends. */
export type KeyResolver = (header: ProtectedHeaderParameters) => Promise<CryptoKey>;

// A compact JWS: three base64url segments. Anything longer than this is not one of ours.
const COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const MAX_TOKEN_LENGTH = 8_192;

export function jwtVerifier(resolveKey: KeyResolver, policy: JwtPolicy): JwtVerifier {
  return { verify: (token) => verifyJwt(token, resolveKey, policy) };
}

/** EdDSA tokens of this gateway: the key ring resolves `kid` (unknown and retired keys are distinct errors). */
export function eddsaVerifier(ring: KeyRing, policy: Omit<JwtPolicy, 'algorithms'>): JwtVerifier {
  return jwtVerifier((header) => ring.verificationKey(header.kid), { ...policy, algorithms: ['EdDSA'] });
}

/** HS512 tokens under one shared secret (a legacy dialect); no kid involved. */
export function hs512Verifier(secret: CryptoKey, policy: Omit<JwtPolicy, 'algorithms'>): JwtVerifier {
  return jwtVerifier(async () => secret, { ...policy, algorithms: ['HS512'] });
}

/**
 * Verification in a fixed order so each forgery gets its own code: shape, then the header's
 * algorithm (alg none and HS/EdDSA confusion are refused before any key is touched), then the
 * key, then signature and claims through jose with algorithms, issuer and audience pinned.
 */
export async function verifyJwt(token: string, resolveKey: KeyResolver, policy: JwtPolicy): Promise<VerifiedJwt> {
  if (token.length > MAX_TOKEN_LENGTH) throw malformed('longer than 8 KiB');
  if (!COMPACT.test(token)) throw malformed('not a compact JWS (three base64url parts)');
  let header: ProtectedHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw malformed('the header is not base64url-encoded JSON');
  }
  const alg = typeof header.alg === 'string' ? header.alg : '';
  if (alg.toLowerCase() === 'none') throw new VigilError('TOKEN_ALG_NONE');
  if (!(policy.algorithms as readonly string[]).includes(alg)) {
    throw new VigilError('TOKEN_ALG_MISMATCH', { alg: alg.slice(0, 16) || '(missing)', expected: policy.algorithms.join(', ') });
  }
  // The header is the token holder's JSON: a kid that is not a string (7, null, an object) is
  // malformed, and must not reach key lookups that treat it as one.
  if (header.kid !== undefined && typeof header.kid !== 'string') throw malformed('"kid" is not a string');
  const key = await resolveKey(header);
  let claims: JWTPayload;
  const nowMs = (policy.clock ?? systemClock).now();
  try {
    const result = await jwtVerify(token, key, {
      currentDate: new Date(nowMs),
      algorithms: [...policy.algorithms],
      issuer: policy.issuer,
      audience: policy.audience,
      typ: policy.typ,
      clockTolerance: policy.clockToleranceSeconds,
      requiredClaims: ['exp', 'iat', ...policy.requiredClaims],
    });
    claims = result.payload;
  } catch (err) {
    throw joseToCatalogue(err);
  }
  // jose checks iat only against a maximum age; a token "issued" in the future is not valid yet.
  const now = Math.floor(nowMs / 1000);
  if (typeof claims.iat === 'number' && claims.iat > now + policy.clockToleranceSeconds)
    throw new VigilError('TOKEN_NOT_YET_VALID');
  return { header, claims };
}

function malformed(reason: string): VigilError {
  return new VigilError('TOKEN_MALFORMED', { reason });
}

function joseToCatalogue(err: unknown): VigilError {
  if (err instanceof errors.JWTExpired) return new VigilError('TOKEN_EXPIRED');
  if (err instanceof errors.JWSSignatureVerificationFailed) return new VigilError('TOKEN_SIGNATURE_INVALID');
  if (err instanceof errors.JOSEAlgNotAllowed)
    return new VigilError('TOKEN_ALG_MISMATCH', { alg: '(other)', expected: 'a pinned algorithm' });
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.reason === 'missing') return malformed(`the "${err.claim}" claim is missing`);
    switch (err.claim) {
      case 'nbf':
      case 'iat':
        return new VigilError(err.reason === 'invalid' ? 'TOKEN_MALFORMED' : 'TOKEN_NOT_YET_VALID', {
          reason: `"${err.claim}" is not a number`,
        });
      case 'iss':
        return new VigilError('TOKEN_ISSUER_INVALID');
      case 'aud':
        return new VigilError('TOKEN_AUDIENCE_INVALID');
      default:
        return malformed(`the "${err.claim}" claim is invalid`);
    }
  }
  if (err instanceof errors.JOSEError) return malformed(err.message);
  if (err instanceof VigilError) return err;
  // A key that does not fit the algorithm, or a payload that is not a JSON object.
  return malformed(err instanceof Error ? err.message : 'unreadable');
}
