import { USERNAME_PATTERN } from '../../../protocol/http/accounts.ts';
import { looksLikePhone, normalizePhone } from './phone-number.ts';

/**
 * The three ways an account can be named. Each is stored normalised, and the unique indexes are
 * on the normalised form, so "Kim@Example.com" and "kim@example.com" are one account.
 */
export type IdentifierKind = 'username' | 'email' | 'phone';
export const IDENTIFIER_KINDS: readonly IdentifierKind[] = ['username', 'email', 'phone'];

/** Case- and width-folded key under which a username is unique ("Ｋｉｍ" = "kim"). */
export function usernameKey(username: string): string {
  return username.normalize('NFKC').trim().toLowerCase();
}

/** Letters of any script (legacy clients sign up with Korean usernames); a letter is required so a
 * username is never mistaken for a phone number at login. */
export function isValidUsername(username: string): boolean {
  return USERNAME_PATTERN.test(username.normalize('NFKC').trim());
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Deliberately permissive (the real test is delivering to it); the same rule as protocol/formats.ts. */
export function isValidEmail(email: string): boolean {
  return email.length <= 254 && /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email);
}

export interface ClassifiedIdentifier {
  kind: IdentifierKind;
  /** Normalised value as stored (username key, lower-cased email, E.164 phone). */
  value: string;
}

/**
 * What a login identifier names: an email has '@', a phone is digits and separators (usernames
 * need a letter), anything else is a username. Undefined when it cannot name any account.
 */
export function classifyIdentifier(identifier: string, phoneRegion: string): ClassifiedIdentifier | undefined {
  const trimmed = identifier.trim();
  if (trimmed.includes('@')) return isValidEmail(trimmed) ? { kind: 'email', value: normalizeEmail(trimmed) } : undefined;
  if (looksLikePhone(trimmed)) {
    const phone = normalizePhone(trimmed, phoneRegion);
    return phone ? { kind: 'phone', value: phone } : undefined;
  }
  return isValidUsername(trimmed) ? { kind: 'username', value: usernameKey(trimmed) } : undefined;
}
