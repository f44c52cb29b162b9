import type { AuditContext } from '../audit/audit-log.ts';

/**
 * What identity needs from the session concern: end a user's sessions after a password change,
 * reset, withdrawal, a status that forbids sessions, or a forgotten device. The session service
 * implements it; identity never imports the session concern.
 */
export interface IdentitySessions {
  /** Revokes every session of the user (but `exceptSessionId`); resolves with how many. */
  revokeAllForUser(userId: string, options: { exceptSessionId?: string; reason: string }): Promise<number>;
  /** Revokes every session and socket of the account; `block` also refuses any that escape, until reopened. */
  revokeAccount(userId: string, options: { reason: string; block?: boolean }): Promise<number>;
  reopenAccount(userId: string): Promise<void>;
  /** The user's live sessions (the device they were logged in from, if any). */
  list(userId: string): Promise<Array<{ id: string; deviceId?: string }>>;
  /** Revokes one session; false when it was not the user's or already gone. */
  revoke(userId: string, sessionId: string, reason: string, audit?: AuditContext): Promise<boolean>;
  /** How long ago the login behind the session proved a credential (infinite for an ended or foreign session), and how. */
  loginProof(sessionId: string, userId: string): Promise<{ ageMs: number; methods: readonly string[] }>;
}
