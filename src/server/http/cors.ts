/**
 * CORS for browser apps calling the HTTP API from another origin. Off unless origins are
 * configured; credentials (cookies) stay off by default because the API takes bearer tokens.
 * Refused origins simply get no CORS headers, so the browser keeps the answer from the page.
 */
export interface CorsOptions {
  /** Comma-separated origins, or '*' for any; empty disables CORS. */
  origins: string;
  credentials: boolean;
  maxAgeSeconds: number;
}

/** Request headers browser apps may send (everything the API reads). */
const ALLOWED_HEADERS = 'authorization, content-type, x-request-id, x-device-id, x-refresh-token, refresh, vigil-reauth';
/** Response headers a page may read besides the CORS-safelisted ones. */
const EXPOSED_HEADERS = 'x-request-id, retry-after, allow, www-authenticate';

export class Cors {
  private readonly any: boolean;
  private readonly allowed: ReadonlySet<string>;

  constructor(private readonly options: CorsOptions) {
    const list = options.origins
      .split(',')
      .map((o) => o.trim())
      .filter(Boolean);
    this.any = list.includes('*');
    this.allowed = new Set(list.map((o) => o.toLowerCase()));
  }

  get enabled(): boolean {
    return this.any || this.allowed.size > 0;
  }

  private allows(origin: string | undefined): origin is string {
    return origin !== undefined && (this.any || this.allowed.has(origin.toLowerCase()));
  }

  /** Headers for an ordinary answer to a request from `origin`. */
  responseHeaders(origin: string | undefined): Record<string, string> {
    if (!this.enabled) return {};
    // Answers differ by Origin whenever a list is configured: caches must key on it.
    const vary: Record<string, string> = this.any && !this.options.credentials ? {} : { vary: 'Origin' };
    if (!this.allows(origin)) return vary;
    const headers: Record<string, string> = {
      ...vary,
      'access-control-allow-origin': this.any && !this.options.credentials ? '*' : origin,
      'access-control-expose-headers': EXPOSED_HEADERS,
    };
    if (this.options.credentials) headers['access-control-allow-credentials'] = 'true';
    return headers;
  }

  /**
   * The answer to a preflight (OPTIONS with Access-Control-Request-Method) for a path that
   * serves `methods`; undefined when CORS is off, so the caller answers as for any OPTIONS.
   */
  preflight(
    origin: string | undefined,
    requestedMethod: string | undefined,
    methods: readonly string[],
  ): Record<string, string> | undefined {
    if (!this.enabled || requestedMethod === undefined) return undefined;
    const base = this.responseHeaders(origin);
    if (!this.allows(origin) || !methods.includes(requestedMethod.toUpperCase())) return base;
    return {
      ...base,
      'access-control-allow-methods': methods.join(', '),
      'access-control-allow-headers': ALLOWED_HEADERS,
      'access-control-max-age': String(this.options.maxAgeSeconds),
    };
  }
}
