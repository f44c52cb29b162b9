import { Counter, Gauge, type Registry } from 'prom-client';

/** Tokens and sessions metrics, registered on the gateway's registry. Labels are closed sets. */
export function createSessionMetrics(registry: Registry, sources: { cacheSize(): number; channelUp(): boolean }) {
  const registers = [registry];
  return {
    verifications: new Counter({
      name: 'vigil_token_verifications_total',
      help: 'Access token checks (routes, sockets, introspection) by outcome: cache_hit, joined (shared a verification already in progress), verified, or the TOKEN_* code refused',
      labelNames: ['outcome'] as const,
      registers,
    }),
    refreshes: new Counter({
      name: 'vigil_token_refreshes_total',
      help: 'Refresh token presentations by outcome: rotated, grace (same pair again), reused (session revoked), unknown, ended',
      labelNames: ['outcome'] as const,
      registers,
    }),
    revokedSessions: new Counter({
      name: 'vigil_sessions_revoked_total',
      help: 'Sessions ended by revocation (logout, revoke, revoke-all, refresh reuse, password change…)',
      registers,
    }),
    logins: new Counter({
      name: 'vigil_logins_total',
      help: 'Login attempts that reached a credential check, by method and outcome (success, failure)',
      labelNames: ['method', 'outcome'] as const,
      registers,
    }),
    cacheEntries: new Gauge({
      name: 'vigil_token_cache_entries',
      help: 'Verified access tokens cached in this process',
      registers,
      collect() {
        this.set(sources.cacheSize());
      },
    }),
    channelUp: new Gauge({
      name: 'vigil_revocation_channel_up',
      help: '1 while revocations published by any process reach this one (Redis pub/sub subscribed)',
      registers,
      collect() {
        this.set(sources.channelUp() ? 1 : 0);
      },
    }),
  };
}

export type SessionMetrics = ReturnType<typeof createSessionMetrics>;
