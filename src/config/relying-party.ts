import { isLoopbackHost } from './deployment-safety.ts';

/** Who passkeys are bound to: the RP ID (a domain) and the exact origins whose pages may use them. */
export interface RelyingParty {
  id: string;
  name: string;
  origins: string[];
}

const DOMAIN = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/**
 * Reads VIGIL_WEBAUTHN_* and answers the problems that make the combination unusable or unsafe:
 * browsers refuse an origin whose host is not the RP ID or under it (every ceremony would fail),
 * and outside localhost WebAuthn over plain http offers no origin guarantee in production.
 */
export function relyingPartyOf(settings: {
  VIGIL_WEBAUTHN_RP_ID: string;
  VIGIL_WEBAUTHN_RP_NAME: string;
  VIGIL_WEBAUTHN_ORIGINS: string;
  NODE_ENV: string;
}): { rp: RelyingParty; problems: string[] } {
  const problems: string[] = [];
  const id = settings.VIGIL_WEBAUTHN_RP_ID.trim().toLowerCase();
  if (!DOMAIN.test(id) || /^\d+(\.\d+){3}$/.test(id)) {
    problems.push(`VIGIL_WEBAUTHN_RP_ID: must be a domain name without scheme, port or path (got ${JSON.stringify(id)})`);
  }
  const origins: string[] = [];
  for (const raw of settings.VIGIL_WEBAUTHN_ORIGINS.split(',')
    .map((o) => o.trim())
    .filter(Boolean)) {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      problems.push(`VIGIL_WEBAUTHN_ORIGINS: ${JSON.stringify(raw)} is not an origin (scheme://host[:port])`);
      continue;
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.origin !== raw.replace(/\/$/, '')) {
      problems.push(`VIGIL_WEBAUTHN_ORIGINS: ${JSON.stringify(raw)} is not an origin (scheme://host[:port], no path)`);
      continue;
    }
    const host = url.hostname;
    if (host !== id && !host.endsWith(`.${id}`)) {
      problems.push(
        `VIGIL_WEBAUTHN_ORIGINS: the host of ${url.origin} is neither VIGIL_WEBAUTHN_RP_ID (${id}) nor a subdomain of it`,
      );
    }
    if (settings.NODE_ENV === 'production' && url.protocol !== 'https:' && !isLoopbackHost(host)) {
      problems.push(`VIGIL_WEBAUTHN_ORIGINS: ${url.origin} must use https in production (only localhost may use http)`);
    }
    origins.push(url.origin);
  }
  if (origins.length === 0 && problems.length === 0) problems.push('VIGIL_WEBAUTHN_ORIGINS: list at least one origin');
  return { rp: { id, name: settings.VIGIL_WEBAUTHN_RP_NAME, origins }, problems };
}
