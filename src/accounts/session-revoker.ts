/**
 * What identity needs from the session concern: end a user's sessions after a password change,
 * reset or withdrawal. The session service implements it; identity never reaches into sessions.
 */
export interface SessionRevoker {
  /** Revokes every session of the user (but `exceptSessionId`); resolves with how many. */
  revokeAllForUser(userId: string, options: { exceptSessionId?: string; reason: string }): Promise<number>;
}
