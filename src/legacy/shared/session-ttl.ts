import type { SessionRecord } from '../../sessions/session-service.ts';

/** Whole seconds the session has left before its absolute end (a dialect token never outlives it). */
export function secondsLeft(session: Pick<SessionRecord, 'expiresAt'>, now = Date.now()): number {
  return Math.max(1, Math.floor((session.expiresAt - now) / 1000));
}
