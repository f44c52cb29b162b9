/**
 * A `getToken` for StreamClient backed by the HTTP API: hands out the current access token
 * until it nears expiry, then rotates the refresh token (`POST /v1/sessions/refresh`) for a new
 * pair. One refresh at a time, so concurrent callers never spend the refresh token twice.
 */

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
}

export interface TokenSourceOptions {
  /** Gateway base URL, e.g. http://127.0.0.1:8080. */
  baseUrl: string;
  tokens: TokenPair;
  /** Refresh when less than this is left (at most half the token's life). Default 60 s. */
  leadSeconds?: number;
  fetch?: typeof fetch;
  /** Called with every new pair (persist the refresh token). */
  onRotate?(tokens: TokenPair): void;
}

interface Claims {
  exp?: number;
  iat?: number;
}

/** Reads exp/iat from a JWT without verifying it (the server does that). */
export function jwtTimes(token: string): Claims {
  const payload = token.split('.')[1];
  if (!payload) return {};
  try {
    const base64 = payload
      .replace(/-/g, '+')
      .replace(/_/g, '/')
      .padEnd(Math.ceil(payload.length / 4) * 4, '=');
    const claims = JSON.parse(atob(base64)) as Claims;
    return {
      exp: typeof claims.exp === 'number' ? claims.exp : undefined,
      iat: typeof claims.iat === 'number' ? claims.iat : undefined,
    };
  } catch {
    return {};
  }
}

export function refreshingTokenSource(options: TokenSourceOptions): () => Promise<string> {
  let tokens = options.tokens;
  let inFlight: Promise<string> | undefined;
  const doFetch = options.fetch ?? fetch;
  const lead = options.leadSeconds ?? 60;

  const rotate = async (): Promise<string> => {
    const res = await doFetch(new URL('/v1/sessions/refresh', options.baseUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: tokens.refreshToken }),
    });
    if (!res.ok) throw new Error(`token refresh failed with HTTP ${res.status}: ${await res.text()}`);
    const pair = (await res.json()) as TokenPair;
    tokens = { accessToken: pair.accessToken, refreshToken: pair.refreshToken };
    options.onRotate?.(tokens);
    return tokens.accessToken;
  };

  return () => {
    const { exp, iat } = jwtTimes(tokens.accessToken);
    const now = Date.now() / 1000;
    const life = exp !== undefined && iat !== undefined ? exp - iat : lead * 2;
    if (exp !== undefined && exp - now > Math.min(lead, life / 2)) return Promise.resolve(tokens.accessToken);
    inFlight ??= rotate().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}
