import { randomUUID } from 'node:crypto';
import type { UpdateFilter } from 'mongodb';
import { VigilError, type ErrorDetail } from '../../../protocol/errors.ts';
import type { AuditContext, AuditLog } from '../../audit/audit-log.ts';
import type { PasswordHasher } from '../credentials/password-hasher.ts';
import { checkPasswordPolicy } from '../credentials/password-policy.ts';
import type { Logger } from '../../observability/logger.ts';
import type { RateLimiter } from '../../rate-limits/rate-limiter.ts';
import type { Tickets } from '../codes/tickets.ts';
import { publicView, type Account, type AccountStatus, type AccountView, type Locale } from './account.ts';
import type { Channel } from '../../notify/notifier.ts';
import type { AccountStore } from './account-store.ts';
import { IdentifiersTaken, isUniqueViolation, type AccountDocument } from './account-store.ts';
import type { Device, DeviceInfo, DeviceStore } from '../devices/device-store.ts';
import { fieldError, fieldErrors } from '../../server/http/field-errors.ts';
import {
  IDENTIFIER_KINDS,
  classifyIdentifier,
  isValidEmail,
  isValidUsername,
  normalizeEmail,
  usernameKey,
  type IdentifierKind,
} from './identifiers.ts';
import { normalizePhone } from './phone-number.ts';
import { ProfileValidator } from './profile-fields.ts';
import { enforceLimit } from '../../rate-limits/enforce-limit.ts';
import { clientKey } from '../../rate-limits/client-key.ts';

export { publicView };
export type { Account, AccountView };

/** Who is asking, for rate limits and the audit trail. */
export type RequestMeta = AuditContext;

export interface AccountServiceOptions {
  /** Region of national phone numbers (VIGIL_PHONE_REGION). */
  phoneRegion: string;
  defaultLocale: Locale;
  requireVerification: boolean;
  requireApproval: boolean;
  signupPerIpHourly: number;
  availabilityPerIpPerMinute: number;
}

export interface SignUpInput {
  username?: string;
  email?: string;
  phone?: string;
  /** Optional: code-only accounts (phone/email) have none. */
  password?: string;
  /** From a verified code (purpose signup): proves the email or phone it was sent to. */
  ticket?: string;
  locale?: Locale;
  profile?: Record<string, unknown>;
  device?: DeviceInfo;
}

/**
 * Rules for one sign-up that differ from the deployment's: an adapter whose contract always
 * verifies or always has an operator approve, accepts shorter passwords, or sends its own messages.
 * Never taken from a client's body.
 */
export interface SignUpPolicy {
  /** Minimum password length (default: the deployment's, 8). */
  passwordMinLength?: number;
  /** Send the verification link/code when the account starts unverified (default true). */
  sendVerification?: boolean;
  /** Instead of VIGIL_REQUIRE_VERIFICATION. */
  requireVerification?: boolean;
  /** Instead of VIGIL_REQUIRE_APPROVAL; remembered on the account, so a later verification still leads to `pending`. */
  requireApproval?: boolean;
}

export interface SignUpResult {
  account: Account;
  device?: Device;
}

export interface AccountCreatedEvent {
  account: Account;
  /** Whether the caller wants the verification message sent (only meaningful when unverified). */
  sendVerification: boolean;
  meta: RequestMeta;
}

export interface AccountWithdrawnEvent {
  /** The account before anonymisation (its id is what other stores key on). */
  account: Account;
  meta: RequestMeta;
}

export interface AccountStatusChangedEvent {
  /** The account after the change. */
  account: Account;
  from: AccountStatus;
  to: AccountStatus;
  meta: RequestMeta;
}

export interface ProfilePatch {
  username?: string;
  locale?: Locale;
  profile?: Record<string, unknown>;
}

export type Availability = Partial<Record<IdentifierKind, { value: string; available: boolean }>>;

type Listener<E> = (event: E) => Promise<void>;

const CHANNEL_FIELD: Record<Channel, 'email' | 'phone'> = { email: 'email', sms: 'phone' };

/**
 * Accounts: sign-up, lookup by any identifier, availability, the status workflow
 * (unverified → pending → active | rejected, withdrawn) and profiles. HTTP-free, so the core
 * routes and every legacy dialect share it.
 */
export class AccountService {
  readonly profiles: ProfileValidator;
  private readonly created: Listener<AccountCreatedEvent>[] = [];
  private readonly withdrawn: Listener<AccountWithdrawnEvent>[] = [];
  private readonly statusChanged: Listener<AccountStatusChangedEvent>[] = [];

  constructor(
    private readonly deps: {
      store: AccountStore;
      devices: DeviceStore;
      hasher: PasswordHasher;
      tickets: Tickets;
      profiles: ProfileValidator;
      audit: AuditLog;
      rateLimiter: RateLimiter;
      logger: Logger;
      options: AccountServiceOptions;
    },
  ) {
    this.profiles = deps.profiles;
  }

  get options(): AccountServiceOptions {
    return this.deps.options;
  }

  /** Runs after every sign-up (e.g. to send the verification link). Failures are logged, not thrown. */
  onCreated(listener: Listener<AccountCreatedEvent>): void {
    this.created.push(listener);
  }

  /** Runs after a withdrawal (e.g. to delete biometric models). Failures are logged, not thrown. */
  onWithdrawn(listener: Listener<AccountWithdrawnEvent>): void {
    this.withdrawn.push(listener);
  }

  /**
   * Runs after an operator moves an account (approve, reject), awaited in order: unlike the other
   * listeners a failure fails the request, because ending sessions is part of a rejection.
   */
  onStatusChanged(listener: Listener<AccountStatusChangedEvent>): void {
    this.statusChanged.push(listener);
  }

  // ── lookup ───────────────────────────────────────────────────────────────

  findById(id: string): Promise<Account | null> {
    return this.deps.store.findById(id);
  }

  /** By the sequential account number (legacy dialects' numeric user ids). */
  findByNumber(number: number): Promise<Account | null> {
    return this.deps.store.findByNumber(number);
  }

  /**
   * The account a login identifier names: username, email or phone (any common format), matched
   * on its normalised form. Null when nothing matches or the identifier cannot name an account.
   */
  async findByIdentifier(identifier: string): Promise<Account | null> {
    const classified = classifyIdentifier(identifier, this.options.phoneRegion);
    return classified ? this.deps.store.findBy(classified.kind, classified.value) : null;
  }

  /** The account whose (normalised) email or phone this is. */
  findByContact(channel: Channel, to: string): Promise<Account | null> {
    return this.deps.store.findBy(CHANNEL_FIELD[channel], to);
  }

  /**
   * The normalised form of an identifier, or VALIDATION_FAILED naming `field` (default: the kind).
   * Emails are lower-cased, phones become E.164, usernames are NFKC-folded and lower-cased.
   */
  normalize(kind: IdentifierKind, value: string, field: string = kind): string {
    switch (kind) {
      case 'username':
        if (!isValidUsername(value)) throw fieldError(field, 'must be 2–32 letters, digits, . _ - with at least one letter');
        return usernameKey(value);
      case 'email':
        if (!isValidEmail(value.trim())) throw fieldError(field, 'must be an email address');
        return normalizeEmail(value);
      case 'phone': {
        const phone = normalizePhone(value, this.options.phoneRegion);
        if (!phone)
          throw fieldError(
            field,
            `must be an E.164 number (+821012345678) or a national number of region ${this.options.phoneRegion}`,
          );
        return phone;
      }
    }
  }

  /** Normalises a code destination: an email for channel email, a phone for sms. */
  normalizeContact(channel: Channel, to: string, field = 'to'): string {
    return this.normalize(channel === 'email' ? 'email' : 'phone', to, field);
  }

  /** Non-active accounts may not log in: returns the catalogued reason, or undefined if it may. */
  loginBlocker(account: Account): VigilError | undefined {
    switch (account.status) {
      case 'active':
        return undefined;
      case 'unverified':
        return new VigilError('ACCOUNT_UNVERIFIED');
      case 'pending':
        return new VigilError('ACCOUNT_PENDING');
      case 'rejected':
        return new VigilError('ACCOUNT_REJECTED');
      case 'withdrawn':
        // Withdrawn accounts have no identifiers left, so a login cannot find them; this is defence.
        return new VigilError('ACCOUNT_STATUS_INVALID', { status: 'withdrawn', action: 'log in to' });
    }
  }

  /** Throws ACCOUNT_UNVERIFIED / ACCOUNT_PENDING / ACCOUNT_REJECTED for accounts that may not log in. */
  assertCanLogin(account: Account): void {
    const blocker = this.loginBlocker(account);
    if (blocker) throw blocker;
  }

  // ── sign-up ──────────────────────────────────────────────────────────────

  async signUp(input: SignUpInput, meta: RequestMeta = {}, policy: SignUpPolicy = {}): Promise<SignUpResult> {
    const { store, devices, hasher, tickets, audit, rateLimiter, options } = this.deps;
    // Before anything costly (bcrypt, queries): sign-ups per IP.
    if (meta.ip)
      await enforceLimit(rateLimiter, `signup:ip:${clientKey(meta.ip)}`, {
        limit: options.signupPerIpHourly,
        windowSeconds: 3600,
      });

    const problems: ErrorDetail[] = [];
    const take = (kind: IdentifierKind): string | undefined => {
      const raw = input[kind];
      if (raw === undefined) return undefined;
      try {
        return this.normalize(kind, raw);
      } catch (err) {
        if (err instanceof VigilError && err.details) problems.push(...err.details);
        return undefined;
      }
    };
    const ids = { username: take('username'), email: take('email'), phone: take('phone') };
    if (input.username === undefined && input.email === undefined && input.phone === undefined) {
      problems.push({ field: 'username', message: 'one of username, email or phone is required' });
    }
    const requireVerification = policy.requireVerification ?? options.requireVerification;
    if (requireVerification && input.email === undefined && input.phone === undefined) {
      problems.push({ field: 'email', message: 'an email or phone is required: new accounts must confirm one' });
    }
    const profile = ProfileValidator.clean(input.profile ?? {});
    try {
      this.profiles.check(profile, 'input');
    } catch (err) {
      if (err instanceof VigilError && err.details) problems.push(...err.details);
    }
    if (problems.length > 0) throw fieldErrors(problems);
    if (input.password !== undefined) {
      checkPasswordPolicy(input.password, {
        field: 'password',
        minLength: policy.passwordMinLength,
        username: input.username,
        email: ids.email,
        phone: ids.phone,
      });
    }

    // Cheap early answer for the common case; the unique indexes remain the real guarantee.
    await this.assertFree(ids);

    const now = new Date();
    const verified = { email: false, phone: false };
    if (input.ticket !== undefined) {
      const claims = await tickets.consume(input.ticket, 'signup');
      const field = CHANNEL_FIELD[claims.channel];
      if (ids[field] !== claims.to) {
        throw new VigilError(
          'TICKET_INVALID',
          {},
          { details: [{ field: 'ticket', message: `was issued for a different ${field}` }] },
        );
      }
      verified[field] = true;
    }
    const passwordHash = input.password !== undefined ? await hasher.hash(input.password) : undefined;

    const doc: AccountDocument = {
      _id: randomUUID(),
      seq: 0,
      status: this.initialStatus(
        verified.email || verified.phone,
        requireVerification,
        policy.requireApproval ?? options.requireApproval,
      ),
      locale: input.locale ?? options.defaultLocale,
      profile,
      createdAt: now,
      updatedAt: now,
    };
    if (policy.requireApproval !== undefined) doc.approvalRequired = policy.requireApproval;
    if (input.username !== undefined) {
      doc.username = input.username.normalize('NFKC').trim();
      doc.usernameKey = ids.username;
    }
    if (ids.email !== undefined) doc.email = ids.email;
    if (ids.phone !== undefined) doc.phone = ids.phone;
    if (verified.email && ids.email) doc.emailVerifiedAt = now;
    if (verified.phone && ids.phone) doc.phoneVerifiedAt = now;
    if (passwordHash !== undefined) {
      doc.passwordHash = passwordHash;
      doc.passwordChangedAt = now;
    }

    await this.insertWithNumber(doc, ids);
    const account = (await store.findById(doc._id))!;

    let device: Device | undefined;
    if (input.device) {
      device = await devices.upsert(account.id, input.device);
      await audit.record('device.registered', 'success', { ...meta, userId: account.id, deviceId: device.id });
    }
    await audit.record('account.created', 'success', {
      ...meta,
      userId: account.id,
      detail: {
        status: account.status,
        identifiers: IDENTIFIER_KINDS.filter((k) => ids[k] !== undefined).join(','),
        via: input.ticket ? 'ticket' : 'direct',
      },
    });
    await this.emit(this.created, { account, sendVerification: policy.sendVerification ?? true, meta }, 'created');
    return device ? { account, device } : { account };
  }

  private initialStatus(verified: boolean, requireVerification: boolean, requireApproval: boolean): AccountStatus {
    if (requireVerification && !verified) return 'unverified';
    return requireApproval ? 'pending' : 'active';
  }

  /** Throws CONFLICT naming the first taken identifier (details list every taken one). */
  private async assertFree(ids: Partial<Record<IdentifierKind, string>>): Promise<void> {
    const taken: IdentifierKind[] = [];
    for (const kind of IDENTIFIER_KINDS) {
      const value = ids[kind];
      if (value !== undefined && (await this.deps.store.exists(kind, value))) taken.push(kind);
    }
    if (taken.length > 0) throw conflict(taken);
  }

  /**
   * Inserts with the next account number. A unique-index refusal does not say which index (FerretDB
   * names none), so the identifiers are looked up: a taken one is the caller's CONFLICT; if none is,
   * the number collided (Redis lost its counter) and the counter is resynchronised and retried.
   */
  private async insertWithNumber(doc: AccountDocument, ids: Partial<Record<IdentifierKind, string>>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      doc.seq = await this.deps.store.nextNumber();
      try {
        await this.deps.store.insert(doc);
        return;
      } catch (err) {
        // Another sign-up claimed an identifier first (or is claiming it right now).
        if (err instanceof IdentifiersTaken) throw conflict(err.kinds);
        if (!isUniqueViolation(err)) throw err;
        await this.assertFree(ids);
        if (attempt >= 3) throw err;
        await this.deps.store.syncSequence();
      }
    }
  }

  // ── availability ─────────────────────────────────────────────────────────

  /** Whether each given identifier is free. Rate-limited per IP: the answer reveals existence. */
  async availability(query: Partial<Record<IdentifierKind, string>>, meta: RequestMeta = {}): Promise<Availability> {
    const kinds = IDENTIFIER_KINDS.filter((k) => query[k] !== undefined);
    if (kinds.length === 0) throw fieldError('username', 'ask about at least one of username, email, phone');
    if (meta.ip) {
      await enforceLimit(this.deps.rateLimiter, `availability:ip:${clientKey(meta.ip)}`, {
        limit: this.options.availabilityPerIpPerMinute,
        windowSeconds: 60,
      });
    }
    const problems: ErrorDetail[] = [];
    const normalized: Partial<Record<IdentifierKind, string>> = {};
    for (const kind of kinds) {
      try {
        normalized[kind] = this.normalize(kind, query[kind]!);
      } catch (err) {
        if (err instanceof VigilError && err.details) problems.push(...err.details);
      }
    }
    if (problems.length > 0) throw fieldErrors(problems);
    const result: Availability = {};
    for (const kind of kinds) {
      const value = normalized[kind]!;
      result[kind] = { value, available: !(await this.deps.store.taken(kind, value)) };
    }
    return result;
  }

  // ── status workflow ──────────────────────────────────────────────────────

  /**
   * Records that the account owning `to` confirmed it (code or link), and moves an unverified
   * account on (pending when approval is required, else active). Null when no account has it.
   */
  async markContactVerified(channel: Channel, to: string, meta: RequestMeta = {}, how = 'code'): Promise<Account | null> {
    const field = CHANNEL_FIELD[channel];
    const account = await this.findByContact(channel, to);
    if (!account) return null;
    return this.markVerified(account, field, meta, how);
  }

  /** Same, for an account already at hand; `field` is which of its contacts was confirmed. */
  async markVerified(account: Account, field: 'email' | 'phone', meta: RequestMeta = {}, how = 'code'): Promise<Account | null> {
    const { store, audit } = this.deps;
    const now = new Date();
    const verifiedField = field === 'email' ? 'emailVerifiedAt' : 'phoneVerifiedAt';
    // Bound to the contact value, so a contact changed meanwhile is not marked by an old proof.
    let updated = await store.update(account.id, { $set: { [verifiedField]: now, updatedAt: now } }, { [field]: account[field] });
    if (!updated) return null;
    if (updated.status === 'unverified') {
      const next: AccountStatus = (updated.approvalRequired ?? this.options.requireApproval) ? 'pending' : 'active';
      updated =
        (await store.update(account.id, { $set: { status: next, updatedAt: now } }, { status: 'unverified' })) ??
        (await store.findById(account.id));
    }
    await audit.record('account.verified', 'success', {
      ...meta,
      userId: account.id,
      detail: { contact: field, via: how, status: updated?.status ?? 'unknown' },
    });
    return updated;
  }

  async approve(id: string, meta: RequestMeta = {}): Promise<Account> {
    return this.transition(id, ['pending', 'rejected'], 'active', 'approve', 'account.approved', meta, {
      approvedAt: new Date(),
    });
  }

  async reject(id: string, reason: string | undefined, meta: RequestMeta = {}): Promise<Account> {
    const set: Partial<AccountDocument> = { rejectedAt: new Date() };
    if (reason) set.rejectionReason = reason;
    return this.transition(id, ['pending'], 'rejected', 'reject', 'account.rejected', meta, set);
  }

  private async transition(
    id: string,
    from: AccountStatus[],
    to: AccountStatus,
    action: string,
    event: 'account.approved' | 'account.rejected',
    meta: RequestMeta,
    set: Partial<AccountDocument>,
  ): Promise<Account> {
    const { store, audit } = this.deps;
    const current = await store.findById(id);
    if (!current) throw new VigilError('NOT_FOUND', { what: 'Account' });
    if (!from.includes(current.status)) throw new VigilError('ACCOUNT_STATUS_INVALID', { status: current.status, action });
    // Conditional on the status read, so two operators acting at once cannot both win.
    const updated = await store.update(id, { $set: { ...set, status: to, updatedAt: new Date() } }, { status: current.status });
    if (!updated) {
      const now = await store.findById(id);
      throw new VigilError('ACCOUNT_STATUS_INVALID', { status: now?.status ?? 'gone', action });
    }
    await audit.record(event, 'success', { ...meta, userId: id, detail: { from: current.status, actor: 'admin' } });
    for (const listener of this.statusChanged) await listener({ account: updated, from: current.status, to, meta });
    return updated;
  }

  list(status: AccountStatus | undefined, limit: number, after?: number): Promise<Account[]> {
    return this.deps.store.listByStatus(status, limit, after);
  }

  // ── profile ──────────────────────────────────────────────────────────────

  /** Changes username, locale or profile fields (null removes a field). Contacts change through verification. */
  async updateProfile(id: string, patch: ProfilePatch, meta: RequestMeta = {}): Promise<Account> {
    const { store, audit } = this.deps;
    const current = await store.findById(id);
    if (!current || current.status === 'withdrawn') throw new VigilError('NOT_FOUND', { what: 'Account' });
    const set: Record<string, unknown> = {};
    const unset: Record<string, ''> = {};
    if (patch.profile) {
      this.profiles.check(patch.profile, 'patch');
      for (const [name, value] of Object.entries(patch.profile)) {
        if (value === undefined) continue;
        if (value === null) unset[`profile.${name}`] = '';
        else set[`profile.${name}`] = value;
      }
    }
    if (patch.locale) set.locale = patch.locale;
    let key: string | undefined;
    const currentKey = current.username === undefined ? undefined : usernameKey(current.username);
    if (patch.username !== undefined) {
      key = this.normalize('username', patch.username);
      if (key !== currentKey) await this.assertFree({ username: key });
      set.username = patch.username.normalize('NFKC').trim();
      set.usernameKey = key;
    }
    set.updatedAt = new Date();
    const update: UpdateFilter<AccountDocument> = { $set: set };
    if (Object.keys(unset).length > 0) update.$unset = unset;
    let updated: Account | null;
    try {
      updated = key === undefined ? await store.update(id, update) : await store.changeUsername(id, currentKey, key, update);
    } catch (err) {
      if ((err instanceof IdentifiersTaken || isUniqueViolation(err)) && key) throw conflict(['username']);
      throw err;
    }
    // A username change is bound to the name read above: one changed or withdrawn meanwhile is refused.
    if (!updated && key !== undefined) {
      const now = await store.findById(id);
      if (now && now.status !== 'withdrawn') throw conflict(['username']);
    }
    if (!updated) throw new VigilError('NOT_FOUND', { what: 'Account' });
    const changed = [...Object.keys(set), ...Object.keys(unset)].filter((k) => k !== 'updatedAt' && k !== 'usernameKey');
    await audit.record('account.updated', 'success', { ...meta, userId: id, detail: { fields: changed.join(',') } });
    return updated;
  }

  // ── used by credentials and withdrawal ───────────────────────────────────

  /** Stores a new password hash (already policy-checked and hashed by the caller). */
  async setPasswordHash(id: string, passwordHash: string): Promise<Account | null> {
    const now = new Date();
    return this.deps.store.update(
      id,
      { $set: { passwordHash, passwordChangedAt: now, updatedAt: now } },
      { status: { $ne: 'withdrawn' } },
    );
  }

  /**
   * Replaces the hash of the same password with a stronger one, only if the account still has
   * `weakHash`: a login's rehash that lands after a password change would otherwise store the
   * old password again (a thief logging in with it as the owner changes it). Not a change: the
   * password and `passwordChangedAt` stay.
   */
  async rehashPassword(id: string, weakHash: string, strongHash: string): Promise<Account | null> {
    return this.deps.store.update(
      id,
      { $set: { passwordHash: strongHash, updatedAt: new Date() } },
      { status: { $ne: 'withdrawn' }, passwordHash: weakHash },
    );
  }

  /**
   * Removes personal data (identifiers, password, profile, devices) and marks the account
   * withdrawn. The id and number stay so the audit trail still refers to something.
   */
  async anonymise(account: Account, meta: RequestMeta = {}): Promise<Account | null> {
    const now = new Date();
    const updated = await this.deps.store.withdraw(account.id, {
      $set: { status: 'withdrawn', withdrawnAt: now, updatedAt: now, profile: {} },
      $unset: {
        username: '',
        usernameKey: '',
        email: '',
        phone: '',
        emailVerifiedAt: '',
        phoneVerifiedAt: '',
        passwordHash: '',
        passwordChangedAt: '',
        rejectionReason: '',
      },
    });
    await this.deps.devices.removeAllForUser(account.id);
    await this.emit(this.withdrawn, { account, meta }, 'withdrawn');
    return updated;
  }

  private async emit<E>(listeners: Listener<E>[], event: E, name: string): Promise<void> {
    for (const listener of listeners) {
      try {
        await listener(event);
      } catch (err) {
        this.deps.logger.warn({ err, event: name }, 'account listener failed');
      }
    }
  }
}

/** CONFLICT naming the first taken identifier (details list every taken one). */
function conflict(taken: IdentifierKind[]): VigilError {
  return new VigilError(
    'CONFLICT',
    { field: taken[0]! },
    { details: taken.map((field) => ({ field, message: `${field} is already taken` })) },
  );
}
