import { BEARER_SUBPROTOCOL_PREFIX, STREAM_SUBPROTOCOL } from '../../protocol/messages.ts';
import type { Principal } from '../server/http/principal.ts';

/**
 * What the channel needs from the tokens concern; `sessionCore.resolver` and
 * `sessionCore.sessions` provide it. `resolve` checks the access token (signature, claims,
 * expiry) and that its session is live, and throws the catalogued TOKEN_* error otherwise;
 * the socket closes with that entry's close code.
 */
export interface TokenResolver {
  resolve(token: string): Promise<Principal>;
}

/** Sessions that ended, as every gateway process hears them (Redis pub/sub). */
export interface SessionRevocation {
  userId: string;
  sessionIds: string[];
}

export interface SessionEvents {
  /** Revocations published by any process, this one included. Returns the unsubscribe. */
  onRevoked(listener: (event: SessionRevocation) => void): () => void;
  /** Revocations may have been missed (the subscription dropped and came back). */
  onResync(listener: () => void): () => void;
  isLive(sessionId: string, userId?: string): Promise<boolean>;
}

export interface UpgradeCredentials {
  /** The access token from `Authorization: Bearer` or a `bearer.<token>` subprotocol. */
  token: string | undefined;
  /** The subprotocol to answer with: `vigil.v1` if offered, else none (never a bearer one). */
  protocol: string;
}

const BEARER = /^Bearer[ \t]+(\S+)\s*$/i;

/** Reads the token an upgrade request carries; the header wins over the subprotocol. */
export function upgradeCredentials(authorization: string, protocols: string): UpgradeCredentials {
  const offered = protocols
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const fromHeader = BEARER.exec(authorization)?.[1];
  const fromProtocol = offered.find((p) => p.startsWith(BEARER_SUBPROTOCOL_PREFIX))?.slice(BEARER_SUBPROTOCOL_PREFIX.length);
  return {
    token: fromHeader ?? (fromProtocol || undefined),
    protocol: offered.includes(STREAM_SUBPROTOCOL) ? STREAM_SUBPROTOCOL : '',
  };
}
