import { VigilError, type ErrorDetail } from '../../protocol/errors.ts';
import type { Account, AccountService } from '../identity/accounts/account-service.ts';
import { enforceLimit } from '../rate-limits/enforce-limit.ts';
import type { SecondFactorMethod, SecondFactors } from '../identity/credentials/account-factors.ts';
import type { Channel } from '../notify/notifier.ts';
import type { DeviceInfo, DeviceStore } from '../identity/devices/device-store.ts';
import { classifyIdentifier } from '../identity/accounts/identifiers.ts';
import type { AuditContext, AuditLog } from '../audit/audit-log.ts';
import type { CodeRequests } from '../identity/codes/code-requests.ts';
import type { Tickets } from '../identity/codes/tickets.ts';
import type { PasswordHasher } from '../identity/credentials/password-hasher.ts';
import type { Logger } from '../observability/logger.ts';
import type { Lockout } from '../rate-limits/lockout.ts';
import type { LimitRule, RateLimiter } from '../rate-limits/rate-limiter.ts';
import type { NewSession, SessionRecord, SessionService, TokenPair } from './session-service.ts';
import type { SessionMetrics } from './session-metrics.ts';
import type { MfaTickets } from './mfa-tickets.ts';
import { clientKey } from '../rate-limits/client-key.ts';
import type { AuthenticationResponseJSON } from '@simplewebauthn/server';
import type { CeremonyOptions, PasskeyCeremonies } from '../identity/credentials/passkeys/passkey-ceremonies.ts';
import { ticketDigest } from '../identity/credentials/passkeys/passkey-challenges.ts';

export type LoginRequest =
  | { method: 'password'; identifier: string; password: string; device?: DeviceInfo }
  | { method: 'passkey'; response: AuthenticationResponseJSON; device?: DeviceInfo }
  | { method: 'code'; channel: Channel; to: string; code: string; device?: DeviceInfo }
  | { method: 'ticket'; ticket: string; device?: DeviceInfo };

export interface LoginResult {
  account: Account;
  session: SessionRecord;
  tokens: TokenPair;
  /** The deployment requires a second factor and the account has none: this session can only enrol one. */
  mfaEnrolmentRequired?: true;
}

/** The first factor passed; the account also needs its second (POST /v1/sessions/mfa). */
export interface MfaChallenge {
  mfa: { ticket: string; methods: SecondFactorMethod[]; expiresIn: number };
}

export type SecondFactorAnswer =
  | { ticket: string; code: string }
  | { ticket: string; recoveryCode: string }
  | { ticket: string; passkey: AuthenticationResponseJSON };

/** What logins need from the passkey ceremonies. */
export type PasskeyVerifier = Pick<PasskeyCeremonies, 'authenticate' | 'authenticationOptions'>;

/** A login whose session carries no core tokens: the dialect that asked attaches its own (SessionService.attachToken). */
export interface DialectLoginResult {
  account: Account;
  session: SessionRecord;
}

export interface LoginOptions {
  /** Recorded as the session's kind ('core' by default; a legacy dialect's name). */
  kind?: string;
}

/** Who a credential proved the caller to be, before any session exists. */
interface ProvenLogin {
  account: Account;
  device: DeviceInfo | undefined;
  method: string;
  /** Where a code or ticket login's code went (its amr: sms, or otp for email). */
  channel?: Channel;
  /** A password login: whether the password it verified is still the account's (see `endIfPasswordChanged`). */
  stillProven?: () => Promise<boolean>;
}

export interface LoginLimits {
  perIp: LimitRule;
  perIdentifier: LimitRule;
}

/**
 * Logging in: password, one-time code, or a ticket from a verified code. Every attempt is
 * counted per IP and per identifier *before* any bcrypt or code check (atomic counters, so
 * concurrent attempts cannot overshoot), and a locked identifier is refused outright. An
 * unknown identifier and a wrong password give the same answer after the same bcrypt work.
 */
export class LoginService {
  constructor(
    private readonly deps: {
      accounts: AccountService;
      hasher: PasswordHasher;
      codeRequests: CodeRequests;
      tickets: Tickets;
      devices: DeviceStore;
      sessions: SessionService;
      rateLimiter: RateLimiter;
      lockout: Lockout;
      audit: AuditLog;
      logger: Logger;
      limits: LoginLimits;
      phoneRegion: string;
      metrics?: Pick<SessionMetrics, 'logins'>;
      /** Authenticator apps and the tickets that bridge the two steps; without them no account needs a second factor. */
      secondFactor?: { factors: SecondFactors; tickets: MfaTickets; perAccount: LimitRule };
      /** Passkey logins (username-less) and passkey second steps. */
      passkeys?: PasskeyVerifier;
      /**
       * VIGIL_MFA_REQUIRE=everyone: an account without a second factor gets a session that can only
       * enrol one (the resolver refuses its tokens elsewhere), and one-step dialect logins are refused.
       */
      requireSecondFactor?: boolean;
    },
  ) {}

  async login(request: LoginRequest, meta: AuditContext, options: LoginOptions = {}): Promise<LoginResult | MfaChallenge> {
    const proven = await this.prove(request, meta);
    const second = this.deps.secondFactor;
    // A user-verified passkey is possession plus the PIN or biometric that unlocked it: two factors already.
    const methods = second && proven.method !== 'passkey' ? await second.factors.methods(proven.account.id) : [];
    if (second && methods.length > 0) {
      const ticket = await second.tickets.issue({
        userId: proven.account.id,
        method: proven.method,
        device: proven.device,
        ...(proven.channel ? { channel: proven.channel } : {}),
      });
      await this.deps.audit.record('login.mfa_required', 'success', {
        ...meta,
        userId: proven.account.id,
        detail: { method: proven.method },
      });
      return { mfa: { ticket, methods, expiresIn: second.tickets.ttlSeconds } };
    }
    if (this.deps.requireSecondFactor && proven.method !== 'passkey') {
      // Like Kratos' aal2 requirement rather than a refusal: the person can still enrol, and nothing else.
      const result = await this.open(proven, meta, options.kind);
      await this.deps.audit.record('login.mfa_enrolment_required', 'success', {
        ...meta,
        userId: proven.account.id,
        sessionId: result.session.id,
      });
      return { ...result, mfaEnrolmentRequired: true };
    }
    return this.open(proven, meta, options.kind);
  }

  /** For clients that cannot take a second step (legacy dialects): MFA_REQUIRED for an account that has one. */
  async loginOneStep(request: LoginRequest, meta: AuditContext, options: LoginOptions = {}): Promise<LoginResult> {
    const proven = await this.prove(request, meta);
    await this.refuseIfSecondFactor(proven, meta, options.kind ?? 'core');
    return this.open(proven, meta, options.kind);
  }

  private async refuseIfSecondFactor(proven: ProvenLogin, meta: AuditContext, kind: string): Promise<void> {
    // Old clients cannot answer a second factor; an account that has one logs in through the core API.
    if (proven.method === 'passkey') return;
    const hasFactor =
      this.deps.secondFactor !== undefined && (await this.deps.secondFactor.factors.methods(proven.account.id)).length > 0;
    // Without a factor, under a deployment that requires one, there is nothing an old client could do either.
    if (!hasFactor && !this.deps.requireSecondFactor) return;
    await this.deps.audit.record('login.failed', 'failure', {
      ...meta,
      userId: proven.account.id,
      detail: { method: proven.method, reason: 'mfa_required', kind },
    });
    throw new VigilError('MFA_REQUIRED');
  }

  /**
   * The second step: an authenticator code (each accepted once) or a recovery code (single use)
   * for a ticket from the first. Counted per IP and per account before any check; wrong answers
   * count against the ticket too.
   */
  async completeMfa(answer: SecondFactorAnswer, meta: AuditContext): Promise<LoginResult> {
    const second = this.deps.secondFactor;
    if (!second) throw new VigilError('MFA_TICKET_INVALID');
    await this.hit(`login:ip:${clientKey(meta.ip)}`, this.deps.limits.perIp);
    const pending = await second.tickets.peek(answer.ticket);
    if (!pending) throw new VigilError('MFA_TICKET_INVALID');
    await this.hit(`mfa:user:${pending.userId}`, second.perAccount);
    const factor = 'code' in answer ? 'totp' : 'passkey' in answer ? 'passkey' : 'recovery_code';
    let ok: boolean;
    let refusal: VigilError | undefined;
    if ('code' in answer) ok = await second.factors.verify(pending.userId, answer.code);
    else if ('recoveryCode' in answer) ok = await second.factors.useRecoveryCode(pending.userId, answer.recoveryCode);
    else {
      if (!this.deps.passkeys) throw new VigilError('MFA_TICKET_INVALID');
      const digest = ticketDigest(answer.ticket);
      try {
        // Only a challenge issued for this ticket, and only a passkey of the account that passed the first step.
        const { passkey } = await this.deps.passkeys.authenticate(
          answer.passkey,
          (b) => b.purpose === 'mfa' && b.ticketDigest === digest,
          meta,
          pending.userId,
        );
        ok = passkey.userId === pending.userId;
        if (!ok) refusal = new VigilError('PASSKEY_UNKNOWN');
      } catch (err) {
        if (!(err instanceof VigilError)) throw err;
        ok = false;
        refusal = err;
      }
    }
    if (!ok) {
      await second.tickets.failed(answer.ticket);
      this.deps.metrics?.logins.inc({ method: factor, outcome: 'failure' });
      await this.deps.audit.record('login.failed', 'failure', {
        ...meta,
        userId: pending.userId,
        detail: { method: factor, reason: refusal?.code ?? 'mfa_code' },
      });
      throw refusal ?? new VigilError('MFA_CODE_INVALID');
    }
    if (!(await second.tickets.consume(answer.ticket))) throw new VigilError('MFA_TICKET_INVALID');
    const account = await this.deps.accounts.findById(pending.userId);
    if (!account) throw new VigilError('MFA_TICKET_INVALID');
    const blocker = this.deps.accounts.loginBlocker(account);
    if (blocker) throw blocker;
    return this.open(
      { account, device: pending.device, method: `${pending.method}+${factor}`, channel: pending.channel },
      meta,
      undefined,
    );
  }

  /** Options for a username-less passkey login; counted against the per-IP login limit (each stores a challenge). */
  async passkeyLoginOptions(meta: AuditContext): Promise<CeremonyOptions> {
    if (!this.deps.passkeys) throw new VigilError('PASSKEY_UNKNOWN');
    await this.hit(`login:ip:${clientKey(meta.ip)}`, this.deps.limits.perIp);
    return this.deps.passkeys.authenticationOptions({ purpose: 'login' });
  }

  /** Options for answering an MFA ticket with a passkey: the challenge is bound to that ticket. */
  async passkeyMfaOptions(ticket: string, meta: AuditContext): Promise<CeremonyOptions> {
    const second = this.deps.secondFactor;
    if (!second || !this.deps.passkeys) throw new VigilError('MFA_TICKET_INVALID');
    await this.hit(`login:ip:${clientKey(meta.ip)}`, this.deps.limits.perIp);
    const pending = await second.tickets.peek(ticket);
    if (!pending) throw new VigilError('MFA_TICKET_INVALID');
    return this.deps.passkeys.authenticationOptions({ purpose: 'mfa', ticketDigest: ticketDigest(ticket) }, pending.userId);
  }

  private async open(proven: ProvenLogin, meta: AuditContext, kind: string | undefined): Promise<LoginResult> {
    await this.recordDevice(proven, meta);
    const { session, tokens } = await this.deps.sessions.start(this.newSession(proven, meta, kind));
    await this.endIfPasswordChanged(proven, session, meta);
    await this.opened(proven, session, meta);
    return { account: proven.account, session, tokens };
  }

  /**
   * A password change ends the account's sessions after storing the new password, but a login that
   * read the old hash before that write may create its session after that revocation: someone who
   * knows the old password (why it is being changed) would keep a session. So a password login
   * re-reads the account once its session exists: if the password it verified is no longer the
   * account's, it ends that session and is refused. Either this read comes before the write, and
   * then the session existed before the change's last revocation (which ends it), or after it, and
   * then it sees the new password.
   */
  private async endIfPasswordChanged(proven: ProvenLogin, session: SessionRecord, meta: AuditContext): Promise<void> {
    if (!proven.stillProven || (await proven.stillProven())) return;
    await this.deps.sessions.revokeSessions(proven.account.id, [session.id], 'password changed');
    await this.deps.audit.record('login.failed', 'failure', {
      ...meta,
      userId: proven.account.id,
      detail: { method: proven.method, reason: 'password_changed' },
    });
    throw new VigilError('LOGIN_FAILED');
  }

  /**
   * The same checks, limits, lockout and audit as `login`, but the session is opened without core
   * tokens: a legacy dialect attaches its own token format to it (an opaque DRF token, an HS512 JWT…),
   * which then lives and dies with the session.
   */
  async loginForDialect(request: LoginRequest, meta: AuditContext, kind: string): Promise<DialectLoginResult> {
    const proven = await this.prove(request, meta);
    await this.refuseIfSecondFactor(proven, meta, kind);
    await this.recordDevice(proven, meta);
    const session = await this.deps.sessions.open(this.newSession(proven, meta, kind));
    await this.endIfPasswordChanged(proven, session, meta);
    await this.opened(proven, session, meta);
    return { account: proven.account, session };
  }

  private prove(request: LoginRequest, meta: AuditContext): Promise<ProvenLogin> {
    switch (request.method) {
      case 'password':
        return this.withPassword(request, meta);
      case 'code':
        return this.withCode(request, meta);
      case 'ticket':
        return this.withTicket(request, meta);
      case 'passkey':
        return this.withPasskey(request, meta);
    }
  }

  /**
   * A username-less passkey login: the same per-IP limit as every login. No per-credential limit
   * or lockout: a signature cannot be guessed, and counting failures against a credential id (which
   * MFA options show to whoever knows the password) would let a stranger lock its owner out.
   */
  private async withPasskey(request: Extract<LoginRequest, { method: 'passkey' }>, meta: AuditContext): Promise<ProvenLogin> {
    const { accounts, audit } = this.deps;
    if (!this.deps.passkeys) throw new VigilError('PASSKEY_UNKNOWN');
    await this.hit(`login:ip:${clientKey(meta.ip)}`, this.deps.limits.perIp);
    let userId: string;
    try {
      ({
        passkey: { userId },
      } = await this.deps.passkeys.authenticate(request.response, (b) => b.purpose === 'login', meta));
    } catch (err) {
      if (err instanceof VigilError) {
        this.deps.metrics?.logins.inc({ method: 'passkey', outcome: 'failure' });
        await audit.record('login.failed', 'failure', { ...meta, detail: { method: 'passkey', reason: err.code } });
      }
      throw err;
    }
    const account = await accounts.findById(userId);
    if (!account) throw new VigilError('PASSKEY_UNKNOWN');
    const blocker = accounts.loginBlocker(account);
    if (blocker) {
      await audit.record('login.failed', 'failure', { ...meta, userId, detail: { method: 'passkey', reason: blocker.code } });
      throw blocker;
    }
    return { account, device: request.device, method: 'passkey' };
  }

  private async withPassword(request: Extract<LoginRequest, { method: 'password' }>, meta: AuditContext): Promise<ProvenLogin> {
    const { accounts, hasher, lockout, audit } = this.deps;
    // The lockout/limit key is the normalised identifier whether or not an account has it, so
    // neither the limits nor the lock reveal which identifiers exist.
    const key = classifyIdentifier(request.identifier, this.deps.phoneRegion)?.value ?? request.identifier.trim().toLowerCase();
    await this.admit(key, meta, 'password');

    const account = await accounts.findByIdentifier(request.identifier);
    const ok = await hasher.verifyPassword(account, request.password);
    if (!ok || !account) {
      await this.failed(key, meta, 'password', account?.id, 'wrong_credentials');
      throw new VigilError('LOGIN_FAILED');
    }
    const blocker = accounts.loginBlocker(account);
    if (blocker) {
      await audit.record('login.failed', 'failure', {
        ...meta,
        userId: account.id,
        detail: { method: 'password', reason: blocker.code },
      });
      throw blocker;
    }
    await lockout.succeed(key);
    this.rehashIfWeak(account, request.password);
    const verified = account.passwordHash;
    // A different hash of the same password (the rehash above) still proves it: bcrypt only then.
    const stillProven = async () => {
      const now = await accounts.findById(account.id);
      return now !== null && (now.passwordHash === verified || (await hasher.verifyPassword(now, request.password)));
    };
    return { account, device: request.device, method: 'password', stillProven };
  }

  private async withCode(request: Extract<LoginRequest, { method: 'code' }>, meta: AuditContext): Promise<ProvenLogin> {
    const field = request.channel === 'email' ? 'email' : 'phone';
    const to = this.deps.accounts.normalizeContact(request.channel, request.to, field);
    await this.admit(to, meta, 'code');
    try {
      // Identity's code check: attempts per code, per-IP verify limits, code.* audit events.
      await this.deps.codeRequests.verifyCode({ channel: request.channel, to, purpose: 'login', code: request.code }, meta);
    } catch (err) {
      if (err instanceof VigilError) await this.failed(to, meta, 'code', undefined, err.code);
      throw err;
    }
    return this.afterContactProven(request.channel, to, request.device, meta, 'code');
  }

  private async withTicket(request: Extract<LoginRequest, { method: 'ticket' }>, meta: AuditContext): Promise<ProvenLogin> {
    await this.hit(`login:ip:${clientKey(meta.ip)}`, this.deps.limits.perIp);
    const claims = await this.deps.tickets.consume(request.ticket, 'login');
    return this.afterContactProven(claims.channel, claims.to, request.device, meta, 'ticket');
  }

  /** A code or ticket proved the caller controls this email/phone: log in the account that has it. */
  private async afterContactProven(
    channel: Channel,
    to: string,
    device: DeviceInfo | undefined,
    meta: AuditContext,
    method: string,
  ): Promise<ProvenLogin> {
    const { accounts, lockout, audit } = this.deps;
    let account = await accounts.findByContact(channel, to);
    // Codes for login are only sent to registered contacts; the account may have gone since.
    if (!account) throw new VigilError('CODE_INVALID');
    // The code reached this contact, which is exactly what verification proves.
    if (account.status === 'unverified') {
      account =
        (await accounts.markVerified(account, channel === 'email' ? 'email' : 'phone', meta, `login ${method}`)) ?? account;
    }
    const blocker = accounts.loginBlocker(account);
    if (blocker) {
      await audit.record('login.failed', 'failure', { ...meta, userId: account.id, detail: { method, reason: blocker.code } });
      throw blocker;
    }
    await lockout.succeed(to);
    return { account, device, method, channel };
  }

  /** Counts the attempt against both limits and refuses a locked identifier, before any real work. */
  private async admit(key: string, meta: AuditContext, method: string): Promise<void> {
    const { limits, lockout, audit } = this.deps;
    await this.hit(`login:ip:${clientKey(meta.ip)}`, limits.perIp);
    await this.hit(`login:id:${key}`, limits.perIdentifier);
    const locked = await lockout.lockedFor(key);
    if (locked > 0) {
      await audit.record('login.failed', 'failure', { ...meta, detail: { method, reason: 'locked' } });
      throw new VigilError('LOGIN_LOCKED', { retryAfter: locked }, { headers: { 'retry-after': String(locked) } });
    }
  }

  private hit(key: string, rule: LimitRule): Promise<void> {
    return enforceLimit(this.deps.rateLimiter, key, rule);
  }

  private async failed(
    key: string,
    meta: AuditContext,
    method: string,
    userId: string | undefined,
    reason: string,
  ): Promise<void> {
    const { lockout, audit } = this.deps;
    this.deps.metrics?.logins.inc({ method, outcome: 'failure' });
    const lockedFor = await lockout.fail(key);
    const fields = userId ? { ...meta, userId } : meta;
    await audit.record('login.failed', 'failure', { ...fields, detail: { method, reason } });
    if (lockedFor > 0) await audit.record('login.locked', 'failure', { ...fields, detail: { method, seconds: lockedFor } });
  }

  private newSession(
    { account, device, method, channel }: ProvenLogin,
    meta: AuditContext,
    kind: string | undefined,
  ): NewSession {
    const session: NewSession = {
      userId: account.id,
      ip: meta.ip,
      userAgent: meta.userAgent,
      deviceId: device?.id,
      amr: amrOf(method, channel),
    };
    if (kind !== undefined) session.kind = kind;
    return session;
  }

  private async recordDevice({ account, device }: ProvenLogin, meta: AuditContext): Promise<void> {
    if (!device) return;
    const stored = await this.deps.devices.upsert(account.id, device);
    if (stored.firstSeenAt.getTime() === stored.lastSeenAt.getTime()) {
      await this.deps.audit.record('device.registered', 'success', { ...meta, userId: account.id, deviceId: device.id });
    }
  }

  /** Records the successful login once the session exists. */
  private async opened({ account, device, method }: ProvenLogin, session: SessionRecord, meta: AuditContext): Promise<void> {
    this.deps.metrics?.logins.inc({ method, outcome: 'success' });
    const detail: Record<string, string> = { method };
    if (session.kind !== 'core') detail.kind = session.kind;
    await this.deps.audit.record('login.succeeded', 'success', {
      ...meta,
      userId: account.id,
      sessionId: session.id,
      deviceId: device?.id,
      detail,
    });
  }

  /** Upgrades a hash made at a lower cost than configured; off the request path. */
  private rehashIfWeak(account: Account, password: string): void {
    const { hasher, accounts, logger } = this.deps;
    const weak = account.passwordHash;
    if (!weak || !hasher.needsRehash(weak)) return;
    void hasher
      .hash(password)
      .then((hash) => accounts.rehashPassword(account.id, weak, hash))
      .catch((err: unknown) => logger.warn({ err, userId: account.id }, 'password rehash failed'));
  }
}

/**
 * RFC 8176 authentication method references for a login: `password`, `code` or `ticket` (by
 * `channel`), or `passkey`, and a second factor appended as `+totp`, `+recovery_code` or `+passkey`.
 * A passkey is `hwk` (proof of possession of a key held by an authenticator) and `user` (its
 * user-presence test); Vigil requires user verification, so it is also `mfa` on its own.
 */
export function amrOf(method: string, channel?: Channel): string[] {
  const [first, second] = method.split('+');
  const amr = new Set<string>();
  if (first === 'password') amr.add('pwd');
  else if (first === 'passkey') amr.add('hwk').add('user').add('mfa');
  else if (channel === 'sms') amr.add('sms').add('otp');
  else amr.add('otp'); // an emailed code, or a ticket from a verified code
  if (second === 'passkey') amr.add('hwk').add('user').add('mfa');
  else if (second) amr.add('otp').add('mfa');
  return [...amr];
}

/** Which way of logging in a body asks for, or VALIDATION_FAILED naming what is missing or extra. */
export function loginRequestOf(body: {
  identifier?: string;
  password?: string;
  email?: string;
  phone?: string;
  code?: string;
  ticket?: string;
  device?: DeviceInfo;
}): LoginRequest {
  const problems: ErrorDetail[] = [];
  const device = body.device ? { device: body.device } : {};
  const given = (['identifier', 'password', 'email', 'phone', 'code', 'ticket'] as const).filter((k) => body[k] !== undefined);
  const only = (allowed: readonly string[]) => {
    for (const field of given)
      if (!allowed.includes(field)) problems.push({ field, message: `cannot be combined with ${allowed.join(' + ')}` });
  };
  let request: LoginRequest | undefined;
  if (body.identifier !== undefined || body.password !== undefined) {
    if (body.identifier === undefined) problems.push({ field: 'identifier', message: 'is required with password' });
    if (body.password === undefined) problems.push({ field: 'password', message: 'is required with identifier' });
    only(['identifier', 'password']);
    request = { method: 'password', identifier: body.identifier ?? '', password: body.password ?? '', ...device };
  } else if (body.code !== undefined || body.email !== undefined || body.phone !== undefined) {
    if (body.code === undefined) problems.push({ field: 'code', message: 'is required with email or phone' });
    if ((body.email === undefined) === (body.phone === undefined))
      problems.push({ field: 'email', message: 'give exactly one of email or phone with code' });
    only(['email', 'phone', 'code']);
    const channel: Channel = body.email !== undefined ? 'email' : 'sms';
    request = { method: 'code', channel, to: body.email ?? body.phone ?? '', code: body.code ?? '', ...device };
  } else if (body.ticket !== undefined) {
    request = { method: 'ticket', ticket: body.ticket, ...device };
  } else {
    problems.push({ field: 'identifier', message: 'give identifier + password, email or phone + code, or ticket' });
  }
  if (problems.length > 0 || !request) {
    throw new VigilError(
      'VALIDATION_FAILED',
      { summary: problems.map((p) => `${p.field}: ${p.message}`).join('; ') },
      { details: problems },
    );
  }
  return request;
}
