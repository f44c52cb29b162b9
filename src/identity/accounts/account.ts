import type { AccountStatus, Locale } from '../../../protocol/http/accounts.ts';

export type { AccountStatus, Locale };

/** Statuses whose accounts may hold no session at all: login is refused and live sessions end. */
export function statusEndsSessions(status: AccountStatus): boolean {
  return status === 'rejected' || status === 'withdrawn';
}

/** Profile values: the built-ins plus operator-declared fields (validated against their schema). */
export interface AccountProfile {
  name?: string;
  gender?: string;
  /** YYYY-MM-DD */
  birthDate?: string;
  /** Kept only when no birth date was given; otherwise derived. */
  age?: number;
  [field: string]: unknown;
}

/**
 * An account as services see it. Identifiers are normalised (lower-cased email, E.164 phone);
 * `username` is as the user typed it, unique by its folded form.
 */
export interface Account {
  id: string;
  /** Sequential number for clients (legacy dialects) that need a numeric user id. */
  number: number;
  username?: string;
  email?: string;
  phone?: string;
  emailVerifiedAt?: Date;
  phoneVerifiedAt?: Date;
  /** bcrypt hash; absent for code-only accounts. Never leaves the service layer. */
  passwordHash?: string;
  passwordChangedAt?: Date;
  status: AccountStatus;
  locale: Locale;
  profile: AccountProfile;
  createdAt: Date;
  updatedAt: Date;
  approvedAt?: Date;
  rejectedAt?: Date;
  rejectionReason?: string;
  withdrawnAt?: Date;
  /** Set when the sign-up overrode VIGIL_REQUIRE_APPROVAL (see SignUpInput.requireApproval). */
  approvalRequired?: boolean;
}

/** What a client may see of an account (no hash, no internal dates). */
export interface AccountView {
  id: string;
  number: number;
  username?: string;
  email?: string;
  phone?: string;
  emailVerified: boolean;
  phoneVerified: boolean;
  hasPassword: boolean;
  status: AccountStatus;
  locale: Locale;
  profile: AccountProfile;
  createdAt: string;
}

/** The contact a code or link goes to. */

/** Whole years between a YYYY-MM-DD birth date and `now` (UTC). */
export function ageFrom(birthDate: string, now = new Date()): number {
  const [y, m, d] = birthDate.split('-').map(Number) as [number, number, number];
  let age = now.getUTCFullYear() - y;
  if (now.getUTCMonth() + 1 < m || (now.getUTCMonth() + 1 === m && now.getUTCDate() < d)) age--;
  return Math.max(0, age);
}

export function publicView(account: Account): AccountView {
  const profile: AccountProfile = { ...account.profile };
  if (profile.birthDate) profile.age = ageFrom(profile.birthDate);
  const view: AccountView = {
    id: account.id,
    number: account.number,
    emailVerified: account.emailVerifiedAt !== undefined,
    phoneVerified: account.phoneVerifiedAt !== undefined,
    hasPassword: account.passwordHash !== undefined,
    status: account.status,
    locale: account.locale,
    profile,
    createdAt: account.createdAt.toISOString(),
  };
  if (account.username !== undefined) view.username = account.username;
  if (account.email !== undefined) view.email = account.email;
  if (account.phone !== undefined) view.phone = account.phone;
  return view;
}
