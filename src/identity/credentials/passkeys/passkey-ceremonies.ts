import { createHash } from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { decodeAttestationObject, isoBase64URL, parseAuthenticatorData } from '@simplewebauthn/server/helpers';
import { VigilError } from '../../../../protocol/errors.ts';
import type { AuditContext, AuditLog } from '../../../audit/audit-log.ts';
import type { ChallengeBinding, PasskeyChallenges } from './passkey-challenges.ts';
import type { PasskeyDocument, PasskeyStore } from './passkey-store.ts';
import type { RelyingParty } from '../../../config/relying-party.ts';

/** Options for the browser: hand to PublicKeyCredential.parse…OptionsFromJSON(). */
export interface CeremonyOptions {
  options: { challenge: string } & Record<string, unknown>;
  expiresIn: number;
}

/** A verified assertion: which passkey, and what the authenticator said about the user. */
export interface PasskeyAssertion {
  passkey: PasskeyDocument;
  userVerified: boolean;
}

const malformed = (field: string, reason: string) =>
  new VigilError('PASSKEY_RESPONSE_MALFORMED', { reason: `${field}: ${reason}` }, { details: [{ field, message: reason }] });

/** The library refused the response: its reason, on the response as a whole. */
const verificationFailed = (err: unknown) =>
  new VigilError(
    'PASSKEY_VERIFICATION_FAILED',
    { reason: (err as Error).message },
    { details: [{ field: '/response', message: (err as Error).message }] },
  );

/** The account handle given to authenticators: opaque bytes, never an email or a username. */
export const userHandleOf = (userId: string) => isoBase64URL.fromUTF8String(userId);

/**
 * The two WebAuthn ceremonies with @simplewebauthn/server. Before the library verifies the
 * signatures, the response's challenge is taken (single use) and checked against what it was
 * issued for, and its origin and RP ID hash are checked here so each failure has its own code.
 * Nothing is stored unless everything verified.
 */
export class PasskeyCeremonies {
  private readonly rpIdHash: Buffer;

  constructor(
    private readonly deps: {
      store: PasskeyStore;
      challenges: PasskeyChallenges;
      rp: RelyingParty;
      audit: AuditLog;
      /** Passkeys one account may hold. */
      maxPerAccount: number;
    },
  ) {
    this.rpIdHash = createHash('sha256').update(deps.rp.id).digest();
  }

  get ttlSeconds(): number {
    return this.deps.challenges.ttlSeconds;
  }

  async registrationOptions(userId: string, sessionId: string, label: string): Promise<CeremonyOptions> {
    const existing = await this.deps.store.list(userId);
    if (existing.length >= this.deps.maxPerAccount)
      throw new VigilError('PASSKEY_LIMIT_REACHED', { limit: this.deps.maxPerAccount });
    const options = await generateRegistrationOptions({
      rpName: this.deps.rp.name,
      rpID: this.deps.rp.id,
      userName: label,
      userID: isoBase64URL.toBuffer(userHandleOf(userId)),
      attestationType: 'none',
      timeout: this.ttlSeconds * 1000,
      excludeCredentials: existing.map((p) => ({ id: p._id, transports: p.transports as AuthenticatorTransport[] })),
      // Discoverable (username-less login) and user-verifying (the passkey alone is two factors).
      authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'required' },
    });
    await this.deps.challenges.issue(options.challenge, { purpose: 'register', userId, sessionId });
    return { options: options as unknown as CeremonyOptions['options'], expiresIn: this.ttlSeconds };
  }

  /** Verifies a new credential made over this session's options and stores it under `name`. */
  async register(userId: string, sessionId: string, name: string, response: RegistrationResponseJSON): Promise<PasskeyDocument> {
    const challenge = await this.precheck(
      response,
      'webauthn.create',
      (b) => b.purpose === 'register' && b.userId === userId && b.sessionId === sessionId,
    );
    let authData;
    try {
      authData = decodeAttestationObject(isoBase64URL.toBuffer(response.response.attestationObject)).get('authData');
    } catch {
      throw malformed('/response/response/attestationObject', 'is not a CBOR attestation object');
    }
    this.checkRpId(authData, '/response/response/attestationObject');
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.deps.rp.origins,
        expectedRPID: this.deps.rp.id,
        requireUserVerification: true,
      });
    } catch (err) {
      throw verificationFailed(err);
    }
    if (!verified.verified) throw new VigilError('PASSKEY_VERIFICATION_FAILED', { reason: 'the attestation did not verify' });
    const info = verified.registrationInfo;
    const doc: PasskeyDocument = {
      _id: info.credential.id,
      userId,
      name,
      publicKey: isoBase64URL.fromBuffer(info.credential.publicKey),
      counter: info.credential.counter,
      transports: response.response.transports ?? [],
      backupEligible: info.credentialDeviceType === 'multiDevice',
      backedUp: info.credentialBackedUp,
      aaguid: info.aaguid,
      createdAt: new Date(),
    };
    if (doc._id !== response.id) throw malformed('/response/id', 'differs from the credential id in the attestation');
    if ((await this.deps.store.count(userId)) >= this.deps.maxPerAccount) {
      throw new VigilError('PASSKEY_LIMIT_REACHED', { limit: this.deps.maxPerAccount });
    }
    if (!(await this.deps.store.insert(doc))) throw new VigilError('PASSKEY_ALREADY_REGISTERED');
    return doc;
  }

  /** Options for an assertion: any discoverable passkey (username-less), or one of `userId`'s. */
  async authenticationOptions(binding: ChallengeBinding, userId?: string): Promise<CeremonyOptions> {
    const allow = userId ? await this.deps.store.list(userId) : [];
    const options = await generateAuthenticationOptions({
      rpID: this.deps.rp.id,
      userVerification: 'required',
      timeout: this.ttlSeconds * 1000,
      allowCredentials: allow.map((p) => ({ id: p._id, transports: p.transports as AuthenticatorTransport[] })),
    });
    await this.deps.challenges.issue(options.challenge, binding);
    return { options: options as unknown as CeremonyOptions['options'], expiresIn: this.ttlSeconds };
  }

  /**
   * Verifies an assertion over a challenge `accept` recognises. A signature counter that does not
   * move forward (a cloned authenticator, or a replayed state) is refused and audited; on success
   * the new counter and backup state are recorded.
   */
  async authenticate(
    response: AuthenticationResponseJSON,
    accept: (binding: ChallengeBinding) => boolean,
    meta: AuditContext,
    /** Only a passkey of this account (an MFA ticket's, a step-up's): another's is refused before anything is recorded. */
    userId?: string,
  ): Promise<PasskeyAssertion> {
    const challenge = await this.precheck(response, 'webauthn.get', accept);
    let authData;
    try {
      authData = isoBase64URL.toBuffer(response.response.authenticatorData);
    } catch {
      throw malformed('/response/response/authenticatorData', 'is not base64url');
    }
    this.checkRpId(authData, '/response/response/authenticatorData');
    const passkey = await this.deps.store.get(response.id);
    if (!passkey || (userId !== undefined && passkey.userId !== userId)) throw new VigilError('PASSKEY_UNKNOWN');
    if (response.response.userHandle && response.response.userHandle !== userHandleOf(passkey.userId)) {
      throw new VigilError('PASSKEY_UNKNOWN');
    }
    let verified;
    try {
      verified = await verifyAuthenticationResponse({
        response,
        expectedChallenge: challenge,
        expectedOrigin: this.deps.rp.origins,
        expectedRPID: this.deps.rp.id,
        requireUserVerification: true,
        // The counter is checked below, after the signature, so only a genuine assertion can trip the clone alarm.
        credential: { id: passkey._id, publicKey: isoBase64URL.toBuffer(passkey.publicKey), counter: 0 },
      });
    } catch (err) {
      throw verificationFailed(err);
    }
    if (!verified.verified) throw new VigilError('PASSKEY_VERIFICATION_FAILED', { reason: 'the signature did not verify' });
    const { newCounter, credentialBackedUp, userVerified } = verified.authenticationInfo;
    if (!(await this.deps.store.advance(passkey._id, newCounter, passkey.counter, credentialBackedUp))) {
      await this.deps.audit.record('passkey.counter_regressed', 'failure', {
        ...meta,
        userId: passkey.userId,
        detail: { credentialId: passkey._id, stored: passkey.counter, presented: newCounter },
      });
      throw new VigilError(
        'PASSKEY_COUNTER_REGRESSED',
        {},
        {
          details: [{ field: '/response/response/authenticatorData', message: `counter ${newCounter} after ${passkey.counter}` }],
        },
      );
    }
    return { passkey: { ...passkey, counter: newCounter, backedUp: credentialBackedUp }, userVerified };
  }

  /** Shape, type, challenge (taken: single use) and origin of a response; answers its challenge. */
  private async precheck(
    response: RegistrationResponseJSON | AuthenticationResponseJSON,
    type: 'webauthn.create' | 'webauthn.get',
    accept: (binding: ChallengeBinding) => boolean,
  ): Promise<string> {
    if (response.id !== response.rawId) throw malformed('/response/rawId', 'differs from id');
    let client: { type?: unknown; challenge?: unknown; origin?: unknown };
    try {
      client = JSON.parse(isoBase64URL.toUTF8String(response.response.clientDataJSON)) as typeof client;
    } catch {
      throw malformed('/response/response/clientDataJSON', 'is not base64url JSON');
    }
    if (
      typeof client !== 'object' ||
      client === null ||
      typeof client.challenge !== 'string' ||
      typeof client.origin !== 'string'
    ) {
      throw malformed('/response/response/clientDataJSON', 'has no challenge or origin');
    }
    if (client.type !== type) throw malformed('/response/response/clientDataJSON', `type must be ${type}`);
    const binding = await this.deps.challenges.take(client.challenge);
    if (!binding || !accept(binding)) {
      throw new VigilError(
        'PASSKEY_CHALLENGE_INVALID',
        {},
        {
          details: [{ field: '/response/response/clientDataJSON', message: 'challenge unknown, expired, used or not yours' }],
        },
      );
    }
    if (!this.deps.rp.origins.includes(client.origin)) {
      throw new VigilError(
        'PASSKEY_ORIGIN_MISMATCH',
        { origin: client.origin },
        {
          details: [{ field: '/response/response/clientDataJSON', message: `origin ${client.origin} is not allowed` }],
        },
      );
    }
    return client.challenge;
  }

  private checkRpId(authData: Uint8Array<ArrayBuffer>, field: string): void {
    let parsed;
    try {
      parsed = parseAuthenticatorData(authData);
    } catch {
      throw malformed(field, 'authenticator data cannot be parsed');
    }
    if (!this.rpIdHash.equals(Buffer.from(parsed.rpIdHash))) {
      throw new VigilError(
        'PASSKEY_RP_ID_MISMATCH',
        {},
        { details: [{ field, message: 'rpIdHash is not SHA-256 of the RP ID' }] },
      );
    }
  }
}
