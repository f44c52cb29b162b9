/**
 * What identity needs from the session concern: end a user's sessions after a password change,
 * reset, withdrawal, or a status that forbids sessions. The session service implements it; identity never reaches into sessions.
 */
export interface SessionRevoker {
  /** Revokes every session of the user (but `exceptSessionId`); resolves with how many. */
  revokeAllForUser(userId: string, options: { exceptSessionId?: string; reason: string }): Promise<number>;
  /** Revokes every session and socket of the account; `block` also refuses any that escape, until reopened. */
  revokeAccount(userId: string, options: { reason: string; block?: boolean }): Promise<number>;
  reopenAccount(userId: string): Promise<void>;
}
