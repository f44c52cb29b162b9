import type { ErrorBody } from '../errors.ts';
import type { ClientMessageOf, ServerMessageOf } from '../messages.ts';

/**
 * Second factors over the gateway's HTTP API: both passkey ceremonies (options → the browser's
 * navigator.credentials → verify) and authenticator apps (setup → confirm → the login's second
 * step), plus the `stepup` answers for the socket. The browser side is a small interface so the
 * same helpers run in a page (`browserPasskeys()`) and in tests (a software authenticator).
 */

/** JSON in, JSON out: what navigator.credentials gives after PublicKeyCredential.toJSON(). */
export interface PasskeyAuthenticator {
  /** navigator.credentials.create() over PublicKeyCredentialCreationOptionsJSON. */
  create(options: PasskeyOptions): Promise<unknown>;
  /** navigator.credentials.get() over PublicKeyCredentialRequestOptionsJSON. */
  get(options: PasskeyOptions): Promise<unknown>;
}

export type PasskeyOptions = { challenge: string } & Record<string, unknown>;

interface BrowserPublicKeyCredential {
  parseCreationOptionsFromJSON(options: unknown): unknown;
  parseRequestOptionsFromJSON(options: unknown): unknown;
}

/** The browser's own WebAuthn (WebAuthn Level 3 JSON helpers: Chrome 129+, Safari 18.4+, Firefox 119+). */
export function browserPasskeys(): PasskeyAuthenticator {
  const g = globalThis as unknown as {
    PublicKeyCredential?: BrowserPublicKeyCredential;
    navigator?: { credentials?: { create(o: unknown): Promise<unknown>; get(o: unknown): Promise<unknown> } };
  };
  const pkc = g.PublicKeyCredential;
  const credentials = g.navigator?.credentials;
  if (!pkc || !credentials) throw new Error('this environment has no WebAuthn (navigator.credentials)');
  const json = (credential: unknown) => (credential as { toJSON(): unknown }).toJSON();
  return {
    create: async (options) => json(await credentials.create({ publicKey: pkc.parseCreationOptionsFromJSON(options) })),
    get: async (options) => json(await credentials.get({ publicKey: pkc.parseRequestOptionsFromJSON(options) })),
  };
}

/** A refused request: the catalogued error of the gateway (protocol/errors.ts). */
export class VigilRequestError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody,
  ) {
    super(`${body.error.code}: ${body.error.message}`);
    this.name = 'VigilRequestError';
  }

  get code(): string {
    return this.body.error.code;
  }
}

/** A completed login (201 of POST /v1/sessions, /v1/sessions/mfa, /v1/sessions/passkey). */
export interface LoginReply {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  user: { id: string } & Record<string, unknown>;
  /** VIGIL_MFA_REQUIRE=everyone and no second factor yet: this session can only enrol one. */
  mfaEnrolmentRequired?: true;
}

/** The first step passed; the second is one of `methods`. */
export interface MfaChallenge {
  mfa: { ticket: string; methods: Array<'totp' | 'recovery_code' | 'passkey'>; expiresIn: number };
}

export interface PasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt?: string;
  backupEligible: boolean;
  backedUp: boolean;
  transports: string[];
}

export interface SecondFactorClientOptions {
  /** The gateway, e.g. https://auth.example.com */
  baseUrl: string;
  fetch?: typeof fetch;
}

export class SecondFactorClient {
  private readonly fetch: typeof fetch;

  constructor(private readonly options: SecondFactorClientOptions) {
    this.fetch = options.fetch ?? fetch;
  }

  /** Adds a passkey to the account of `accessToken` (from a recent login). */
  async addPasskey(accessToken: string, name: string, authenticator: PasskeyAuthenticator): Promise<PasskeyView> {
    const { options } = await this.post<{ options: PasskeyOptions }>('/v1/passkeys/registration-options', {}, accessToken);
    const response = await authenticator.create(options);
    return this.post<PasskeyView>('/v1/passkeys', { name, response }, accessToken);
  }

  listPasskeys(accessToken: string): Promise<{ passkeys: PasskeyView[] }> {
    return this.request('GET', '/v1/passkeys', undefined, accessToken);
  }

  renamePasskey(accessToken: string, id: string, name: string): Promise<PasskeyView> {
    return this.request('PATCH', `/v1/passkeys/${encodeURIComponent(id)}`, { name }, accessToken);
  }

  /** Deleting needs a recent login, like adding. */
  deletePasskey(accessToken: string, id: string): Promise<{ removed: true }> {
    return this.request('DELETE', `/v1/passkeys/${encodeURIComponent(id)}`, undefined, accessToken);
  }

  /** A username-less login: the authenticator chooses the account. */
  async loginWithPasskey(authenticator: PasskeyAuthenticator, device?: Record<string, unknown>): Promise<LoginReply> {
    const { options } = await this.post<{ options: PasskeyOptions }>('/v1/sessions/passkey/options', {});
    const response = await authenticator.get(options);
    return this.post<LoginReply>('/v1/sessions/passkey', device ? { response, device } : { response });
  }

  /** The first step: a password login, which an account with a second factor answers with a ticket. */
  login(identifier: string, password: string): Promise<LoginReply | MfaChallenge> {
    return this.post('/v1/sessions', { identifier, password });
  }

  /** The second step with one of the account's passkeys. */
  async completeMfaWithPasskey(ticket: string, authenticator: PasskeyAuthenticator): Promise<LoginReply> {
    const { options } = await this.post<{ options: PasskeyOptions }>('/v1/sessions/mfa/passkey-options', { ticket });
    return this.post<LoginReply>('/v1/sessions/mfa', { ticket, passkey: await authenticator.get(options) });
  }

  /** The second step with an authenticator-app code, or a recovery code. */
  completeMfa(ticket: string, answer: { code: string } | { recoveryCode: string }): Promise<LoginReply> {
    return this.post('/v1/sessions/mfa', { ticket, ...answer });
  }

  /** Starts an authenticator-app setup: show `qrSvg` (or `uri`) to the person, then confirm with a first code. */
  setupTotp(accessToken: string): Promise<{ secret: string; uri: string; qrSvg: string }> {
    return this.post('/v1/mfa/totp', undefined, accessToken);
  }

  /** Confirms the setup; the ten recovery codes are shown once. */
  confirmTotp(accessToken: string, code: string): Promise<{ recoveryCodes: string[] }> {
    return this.post('/v1/mfa/totp/confirm', { code }, accessToken);
  }

  private post<T>(path: string, body: unknown, accessToken?: string): Promise<T> {
    return this.request('POST', path, body, accessToken);
  }

  private async request<T>(method: string, path: string, body: unknown, accessToken?: string): Promise<T> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (accessToken) headers.authorization = `Bearer ${accessToken}`;
    const res = await this.fetch(new URL(path, this.options.baseUrl), {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const json = (await res.json()) as unknown;
    if (!res.ok) throw new VigilRequestError(res.status, json as ErrorBody);
    return json as T;
  }
}

/**
 * The `stepup` message answering `stepup.required` with a passkey: an assertion over the options
 * that came with it (send it with StreamClient.send()).
 */
export async function passkeyStepUp(
  required: ServerMessageOf<'stepup.required'>,
  authenticator: PasskeyAuthenticator,
): Promise<ClientMessageOf<'stepup'>> {
  if (!required.passkey) throw new Error('this step-up offers no passkey (the account has none)');
  const passkey = await authenticator.get(required.passkey.options);
  return { type: 'stepup', passkey: passkey as ClientMessageOf<'stepup'>['passkey'] };
}

/** The `stepup` message answering `stepup.required` with an authenticator-app code shown now. */
export function totpStepUp(code: string): ClientMessageOf<'stepup'> {
  return { type: 'stepup', code };
}
