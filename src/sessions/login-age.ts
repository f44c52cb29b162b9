import type { SessionRecord } from './session-store.ts';

/**
 * How long ago the login behind `session` proved a credential, for changes that need a recent
 * proof (the biometric owner, second factors). A session is created by a login and a refresh keeps
 * its creation time, so refreshing proves nothing; an ended session, or another account's, is
 * infinitely old.
 */
export function loginAgeMs(session: SessionRecord | undefined, userId: string, now: number): number {
  return session && session.userId === userId ? now - session.createdAt : Number.POSITIVE_INFINITY;
}
