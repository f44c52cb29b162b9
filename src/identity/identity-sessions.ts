import type { AuditContext } from '../audit/audit-log.ts';

/**
 * What identity needs from the session concern: end a user's sessions after a password change,
 * reset, withdrawal, a status that forbids sessions, or a forgotten device. The session service
 * implements it; identity never imports the session concern.
 */
export interface IdentitySessions {
  /**
   * Revokes every session of the user (but `exceptSessionId`); resolves with how many. With
   * `requireReplicas` (the caller's client can ask again), throws ReplicationTimeout (503) once
   * done unless replicas hold every such deletion.
   */
  revokeAllForUser(
    userId: string,
    options: { exceptSessionId?: string; reason: string; requireReplicas?: boolean },
  ): Promise<number>;
  /** Revokes every session and socket of the account; `block` also refuses any that escape, until reopened. */
  revokeAccount(userId: string, options: { reason: string; block?: boolean }): Promise<number>;
  reopenAccount(userId: string): Promise<void>;
  /** The user's live sessions (the device they were logged in from, if any). */
  list(userId: string): Promise<Array<{ id: string; deviceId?: string }>>;
  /** Revokes these sessions at once (one deletion, one announcement); the ids of those that were the user's and live. */
  revokeSessions(userId: string, sessionIds: readonly string[], reason: string, audit?: AuditContext): Promise<string[]>;
  /** How long ago the login behind the session proved a credential (infinite for an ended or foreign session), and how. */
  loginProof(sessionId: string, userId: string): Promise<{ ageMs: number; methods: readonly string[] }>;
}
