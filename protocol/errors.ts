/**
 * The one error catalogue. Every error the gateway reports — HTTP body or WebSocket close —
 * is an entry here: a stable `code`, an HTTP status, a WebSocket close code and a message
 * template whose `{placeholders}` are filled from the error's params.
 *
 * WebSocket close codes follow Centrifuge's ranges so a client can decide without a table:
 *   3000–3499  transport, reconnect-worthy       3500–3999  transport, terminal
 *   4000–4499  application, reconnect-worthy     4500–4999  application, terminal
 * 1008/1009/1011 are the RFC codes where one fits exactly.
 */

export interface CatalogueEntry {
  readonly status: number;
  readonly close: number;
  readonly message: string;
}

/** Close codes that a well-behaved client answers by reconnecting (with backoff). */
export function isReconnectWorthy(closeCode: number): boolean {
  return (
    closeCode === 1001 ||
    closeCode === 1006 ||
    closeCode === 1011 ||
    closeCode === 1012 ||
    closeCode === 1013 ||
    (closeCode >= 3000 && closeCode < 3500) ||
    (closeCode >= 4000 && closeCode < 4500)
  );
}

export const ERRORS = {
  // ── request shape ────────────────────────────────────────────────────────
  BODY_INVALID: { status: 400, close: 4500, message: 'Request body is invalid: {reason}' },
  JSON_MALFORMED: { status: 400, close: 4500, message: 'Body is not valid JSON: {reason}' },
  VALIDATION_FAILED: { status: 400, close: 4500, message: 'Request failed validation: {summary}' },
  BODY_TOO_LARGE: { status: 413, close: 1009, message: 'Body exceeds the limit of {limit} bytes' },
  UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    close: 4500,
    message: 'Content-Type {got} is not accepted here; use {expected}',
  },
  ROUTE_NOT_FOUND: { status: 404, close: 4500, message: 'No route for {method} {path}' },
  METHOD_NOT_ALLOWED: { status: 405, close: 4500, message: '{method} is not allowed on {path}; allowed: {allow}' },
  NOT_ACCEPTABLE: { status: 406, close: 4500, message: '{reason}' },

  // ── availability ─────────────────────────────────────────────────────────
  DEPENDENCY_UNAVAILABLE: { status: 503, close: 1011, message: '{dependency} is unavailable' },
  SHUTTING_DOWN: { status: 503, close: 1001, message: 'The gateway is shutting down' },
  INTERNAL: { status: 500, close: 1011, message: 'Internal error' },

  // ── admin ────────────────────────────────────────────────────────────────
  ADMIN_UNAUTHORIZED: { status: 401, close: 4501, message: 'Admin credential missing or wrong' },
  ADMIN_DISABLED: { status: 403, close: 4501, message: 'Admin API is disabled: VIGIL_ADMIN_TOKEN is not set' },
  INTERNAL_CREDENTIAL_REQUIRED: { status: 401, close: 4501, message: '{endpoint} needs its bearer credential ({variable})' },
  INTERNAL_ENDPOINT_DISABLED: {
    status: 403,
    close: 4501,
    message: '{endpoint} is disabled in production until {variable} is set',
  },

  // ── abuse protection ─────────────────────────────────────────────────────
  RATE_LIMITED: { status: 429, close: 4429, message: 'Too many requests; retry in {retryAfter} s' },

  // ── storage ──────────────────────────────────────────────────────────────
  CONFLICT: { status: 409, close: 4500, message: '{field} is already taken' },
  NOT_FOUND: { status: 404, close: 4500, message: '{what} not found' },

  // ── identity: accounts, passwords, one-time codes, delivery ───
  // Logins of accounts that exist but may not sign in yet; distinct so clients can explain why.
  ACCOUNT_UNVERIFIED: { status: 403, close: 4503, message: 'The account has not confirmed its email or phone yet' },
  ACCOUNT_PENDING: { status: 403, close: 4503, message: 'The account is awaiting operator approval' },
  ACCOUNT_REJECTED: { status: 403, close: 4503, message: 'The account was rejected by the operator' },
  ACCOUNT_STATUS_INVALID: { status: 409, close: 4500, message: 'The account is {status}; cannot {action} it' },
  PASSWORD_TOO_SHORT: { status: 400, close: 4500, message: '{field} must be at least {min} characters long' },
  PASSWORD_TOO_LONG: {
    status: 400,
    close: 4500,
    message: '{field} is {bytes} bytes in UTF-8; bcrypt uses at most {limit}, so longer passwords are refused',
  },
  PASSWORD_MATCHES_IDENTIFIER: { status: 400, close: 4500, message: '{field} must not be the same as the {identifier}' },
  PASSWORD_INCORRECT: { status: 401, close: 4500, message: 'The current password is wrong' },
  CODE_INVALID: { status: 400, close: 4500, message: 'The code is wrong, expired or already used' },
  CODE_EXHAUSTED: { status: 400, close: 4500, message: 'Too many wrong codes; request a new one' },
  CODE_COOLDOWN: { status: 429, close: 4429, message: 'A code was sent moments ago; request another in {retryAfter} s' },
  TICKET_INVALID: { status: 400, close: 4500, message: 'The ticket is invalid, expired, already used or for another purpose' },
  LINK_INVALID: { status: 400, close: 4500, message: 'The verification link is invalid, expired or already used' },
  CHANNEL_UNAVAILABLE: { status: 503, close: 1011, message: 'Delivery by {channel} is not configured on this gateway' },

  // ── tokens and sessions ───────────────────────────────────────
  // Each way an access token can be wrong has its own code, so clients and operators can tell a
  // forgery from clock trouble. Expired is reconnect-worthy (refresh, then reconnect); the rest
  // are terminal for the token.
  TOKEN_MISSING: { status: 401, close: 4510, message: 'An access token is required: Authorization: Bearer <token>' },
  TOKEN_MALFORMED: { status: 401, close: 4511, message: 'The access token is malformed: {reason}' },
  TOKEN_ALG_NONE: { status: 401, close: 4512, message: 'Unsigned tokens (alg "none") are refused' },
  TOKEN_ALG_MISMATCH: { status: 401, close: 4513, message: 'Token algorithm {alg} is not accepted here; expected {expected}' },
  TOKEN_KID_UNKNOWN: { status: 401, close: 4514, message: 'The token names a signing key ({kid}) this gateway does not know' },
  TOKEN_KEY_RETIRED: {
    status: 401,
    close: 4515,
    message: 'The token was signed with key {kid}, which was retired after rotation',
  },
  TOKEN_SIGNATURE_INVALID: { status: 401, close: 4516, message: 'The token signature does not verify' },
  TOKEN_ISSUER_INVALID: { status: 401, close: 4517, message: 'The token was issued by someone else' },
  TOKEN_AUDIENCE_INVALID: { status: 401, close: 4518, message: 'The token is meant for another audience' },
  TOKEN_NOT_YET_VALID: { status: 401, close: 4519, message: 'The token is not valid yet (nbf/iat in the future)' },
  TOKEN_EXPIRED: { status: 401, close: 4401, message: 'The access token has expired; refresh it' },
  TOKEN_REVOKED: { status: 401, close: 4520, message: 'The session behind this token has ended or been revoked' },
  REFRESH_TOKEN_INVALID: { status: 401, close: 4521, message: 'The refresh token is unknown or expired' },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    close: 4522,
    message: 'The refresh token was already used; its session has been revoked as a precaution',
  },
  LOGIN_FAILED: { status: 401, close: 4523, message: 'The identifier or password is wrong' },
  LOGIN_LOCKED: { status: 429, close: 4429, message: 'Too many failed logins for this identifier; retry in {retryAfter} s' },
  // Second factors (authenticator apps). A login of an account with one answers an MFA ticket first.
  MFA_REQUIRED: {
    status: 401,
    close: 4523,
    message: 'This account needs a second factor, which this login path cannot take; log in through POST /v1/sessions',
  },
  MFA_TICKET_INVALID: { status: 401, close: 4523, message: 'The MFA ticket is invalid, expired, used up or already spent' },
  MFA_CODE_INVALID: { status: 401, close: 4523, message: 'The authenticator code or recovery code is wrong or already used' },
  MFA_PROOF_STALE: {
    status: 403,
    close: 4500,
    message: 'Changing second factors needs a login within the last {seconds} s; log in again (with the current factors)',
  },
  MFA_FACTOR_PROOF_REQUIRED: {
    status: 403,
    close: 4500,
    message:
      'This account has a second factor: adding or removing one needs a session whose login used a second factor; log in again with it',
  },
  TOTP_ALREADY_ENABLED: { status: 409, close: 4500, message: 'An authenticator app is already set up; remove it first' },
  TOTP_UNAVAILABLE: {
    status: 503,
    close: 1011,
    message: 'Authenticator apps need VIGIL_MFA_KEYS on this gateway (secrets are never stored in plaintext in production)',
  },
  TOTP_NOT_ENABLED: { status: 404, close: 4500, message: 'No authenticator app is set up (or its setup was not confirmed)' },
  MFA_ENROLMENT_REQUIRED: {
    status: 403,
    close: 4523,
    message:
      "This deployment requires a second factor and this session's login had none: it can only enrol one (/v1/mfa/totp, /v1/passkeys); then log in again with it",
  },
  // Passkeys (WebAuthn). A ceremony that fails stores nothing; `details` names the field at fault.
  PASSKEY_RESPONSE_MALFORMED: { status: 400, close: 4500, message: 'The passkey response is malformed: {reason}' },
  PASSKEY_CHALLENGE_INVALID: {
    status: 401,
    close: 4523,
    message: 'The passkey challenge is unknown, expired, already used or was issued for something else; ask for new options',
  },
  PASSKEY_ORIGIN_MISMATCH: {
    status: 401,
    close: 4523,
    message: 'The passkey response comes from origin {origin}, which is not allowed here',
  },
  PASSKEY_RP_ID_MISMATCH: {
    status: 401,
    close: 4523,
    message: 'The passkey response was made for another relying party (RP ID)',
  },
  PASSKEY_VERIFICATION_FAILED: { status: 401, close: 4523, message: 'The passkey response did not verify: {reason}' },
  PASSKEY_UNKNOWN: { status: 401, close: 4523, message: 'No passkey with this credential id can log in here' },
  PASSKEY_COUNTER_REGRESSED: {
    status: 401,
    close: 4523,
    message:
      "The passkey's signature counter went backwards: the authenticator may have been cloned; the attempt is refused and audited",
  },
  PASSKEY_ALREADY_REGISTERED: { status: 409, close: 4500, message: 'This passkey (credential id) is already registered' },
  PASSKEY_NOT_FOUND: { status: 404, close: 4500, message: 'You have no passkey with this id' },
  PASSKEY_LIMIT_REACHED: { status: 409, close: 4500, message: 'An account holds at most {limit} passkeys; delete one first' },
  SIGNING_KEYS_FROM_CONFIG: {
    status: 409,
    close: 4500,
    message: 'Signing keys come from VIGIL_JWT_PRIVATE_KEYS; rotate them by changing the configuration',
  },

  // ── biometrics ───────────────────────────────────────────────────────────
  // Uploaded or streamed sample data that is well-formed as a body but unusable as samples
  // is 422 throughout; `details` name the row/column or JSON pointer of each problem.
  SAMPLES_INVALID: { status: 422, close: 4500, message: 'Sample data is invalid: {reason}' },
  SAMPLES_EMPTY: { status: 422, close: 4500, message: 'Sample data contains no {what}' },
  SAMPLES_TOO_FEW: {
    status: 422,
    close: 4500,
    message: 'Need at least {required} {unit} for one window, got {got}',
  },
  SAMPLES_TOO_MANY: { status: 422, close: 4500, message: 'Too many {what}: {got} exceeds the limit of {limit}' },
  SAMPLES_SPEC_MISMATCH: {
    status: 422,
    close: 4500,
    message: 'Sample data does not match the model: {reason}',
  },
  ENROLLMENT_TOO_SMALL: {
    status: 422,
    close: 4500,
    message: 'Enrolment has {got} windows; at least {required} are needed to train a model',
  },
  ENROLLMENT_TOO_UNIFORM: {
    status: 422,
    close: 4500,
    message:
      'Enrolment data barely varies: {constant} of {features} features are identical in every window; record at least {required} windows while performing the activity (a device lying still or a repeated recording carries no identity)',
  },
  MODEL_TRAINING_FAILED: { status: 500, close: 1011, message: 'Model training failed: {reason}' },
  SCORING_FAILED: { status: 503, close: 1011, message: 'Scoring failed: {reason}' },
  SCORING_TIMEOUT: { status: 503, close: 1011, message: 'Scoring did not finish within {timeoutMs} ms' },
  SCORING_OVERLOADED: { status: 503, close: 1013, message: 'Scoring queue is full; retry shortly' },
  // Enrolment and model lifecycle (src/biometrics/biometric-service.ts). No model yet is
  // its own code so clients can tell "enrol first" from a wrong id; it is not a socket close.
  BIOMETRIC_MODEL_MISSING: {
    status: 404,
    close: 4500,
    message:
      'This account has no biometric model yet; enrol first (enroll.begin on the socket, or POST /v1/biometrics/enrollments)',
  },
  // Changing who "the owner" is (enrol, re-enrol, delete the model) needs the same fresh proof as
  // a step-up: a stolen access token alone must not be enough (docs/biometrics.md, trust model).
  BIOMETRIC_PROOF_STALE: {
    status: 403,
    close: 4500,
    message:
      'Changing the biometric model needs a login by password or code within the last {seconds} s; this session logged in {age} s ago. Log in again and retry with the new token',
  },
  BIOMETRIC_STEPUP_OWED: {
    status: 403,
    close: 4500,
    message: 'This session owes a step-up (continuous verification read {reason}); prove it before changing the biometric model',
  },
  BIOMETRIC_REAUTH_REQUIRED: {
    status: 403,
    close: 4500,
    message:
      'Replacing or deleting the biometric model (version {version}) needs a re-authentication with the request ({methods}), or this session streaming as genuine under that model within the last {seconds} s',
  },
  ENROLLMENT_NOT_OPEN: {
    status: 409,
    close: 4500,
    message: 'Enrolment {enrollmentId} is {status}; uploads are only added while it is open',
  },

  // ── realtime channel (/v1/stream) ──────────────────────────────
  // Close codes of the socket; protocol/README.md has the full table. A token that is missing,
  // forged, expired or whose session is revoked closes the socket with the TOKEN_* entry above
  // (TOKEN_EXPIRED is reconnect-worthy, TOKEN_REVOKED terminal), so a code means one thing on
  // HTTP and on the socket. The close reason is the code name; a `bye` message carrying the
  // full text precedes the close.
  // transport, reconnect-worthy: the client fixes the cause and retries
  STREAM_AUTH_TIMEOUT: { status: 408, close: 3002, message: 'No authentication within {timeoutMs} ms of connecting' },
  STREAM_BACKPRESSURE: { status: 503, close: 3003, message: 'Client reads too slowly: {bytes} bytes are waiting to be sent' },
  // transport, terminal: sending the same bytes again cannot succeed
  STREAM_FRAME_MALFORMED: { status: 400, close: 3501, message: 'Malformed sample frame: {reason}' },
  STREAM_MESSAGE_MALFORMED: { status: 400, close: 3502, message: 'Malformed control message: {reason}' },
  STREAM_MESSAGE_TOO_LARGE: { status: 413, close: 1009, message: 'Message of {size} bytes exceeds the limit of {limit} bytes' },
  // application, reconnect-worthy: transient limits (the client backs off)
  STREAM_TOO_MANY_CONNECTIONS: { status: 429, close: 4001, message: 'This account already has {limit} open connections' },
  STREAM_RATE_EXCEEDED: { status: 429, close: 4002, message: 'More than {limit} messages per second on one connection' },
  // application, terminal
  STREAM_POLICY_FAILED: { status: 403, close: 4540, message: 'Continuous verification failed: {reason}' },
  /** Only ever sent in an `error` message: the frame was dropped (a gap), the socket stays open. */
  ENROLLMENT_BACKPRESSURE: {
    status: 429,
    close: 4500,
    message: 'Enrolment frames of stream {stream} arrive faster than they are stored; frames were dropped, slow down',
  },
  /** Only ever sent in an `error` message; the socket stays open. */
  STREAM_REFUSED: { status: 422, close: 4500, message: '{reason}' },

  // ── continuous verification (src/biometrics/continuous/) ──────
  // STREAM_POLICY_FAILED above closes a socket whose trust triggered the `revoke` policy. A
  // step-up that is not proven in time closes with its own terminal code: the client must log in
  // again (password or code) and present that proof (`stepup`) on its next socket.
  STREAM_STEPUP_TIMEOUT: {
    status: 401,
    close: 4541,
    message: 'Step-up verification was not completed within {seconds} s; log in again and send `stepup`',
  },
  /** Only ever sent in an `error` message (ref `stepup`); the socket stays open and the deadline runs on. */
  STEPUP_INVALID: { status: 401, close: 4500, message: 'Step-up refused: {reason}' },
} as const satisfies Record<string, CatalogueEntry>;

/**
 * Codes an adapter owns (each legacy dialect its own, as Better Auth's plugins own theirs): the
 * adapter augments this interface with its codes (`declare module`) and registers their entries
 * with `extendCatalogue`. The core API never answers them, and they are not in its OpenAPI.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface CatalogueExtensions {}

/** A code of the core catalogue. */
export type CoreErrorCode = keyof typeof ERRORS;
/** Any code a VigilError may carry: the core's, or one an adapter registered. */
export type ErrorCode = CoreErrorCode | Extract<keyof CatalogueExtensions, string>;

const extensions = new Map<string, CatalogueEntry>();

/** Registers an adapter's own codes; a code the core (or another adapter) already has is refused. */
export function extendCatalogue<const T extends Record<string, CatalogueEntry>>(entries: T): T {
  for (const [code, entry] of Object.entries(entries)) {
    const known = extensions.get(code);
    if (code in ERRORS || (known && known !== entry)) throw new TypeError(`error code ${code} is already catalogued`);
    extensions.set(code, entry);
  }
  return entries;
}

function entryOf(code: ErrorCode): CatalogueEntry {
  const entry = (ERRORS as Record<string, CatalogueEntry>)[code] ?? extensions.get(code);
  if (!entry) throw new TypeError(`error code ${code} is not catalogued (its owner's catalogue was never loaded)`);
  return entry;
}

export interface ErrorDetail {
  /** JSON pointer of the offending field ("/email"), or a header/query name ("query.rate"). */
  field: string;
  message: string;
}

export type ErrorParams = Record<string, string | number>;

function render(template: string, params: ErrorParams): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) => (key in params ? String(params[key]) : whole));
}

/** The only error type handlers throw. Carries its catalogue entry; never an ad-hoc status. */
export class VigilError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly close: number;
  readonly details: ErrorDetail[] | undefined;
  readonly params: ErrorParams;
  /** Extra response headers this error implies (e.g. Retry-After, Allow). */
  readonly headers: Record<string, string>;

  constructor(
    code: ErrorCode,
    params: ErrorParams = {},
    options: { details?: ErrorDetail[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    const entry = entryOf(code);
    super(render(entry.message, params), { cause: options.cause });
    this.name = 'VigilError';
    this.code = code;
    this.status = entry.status;
    this.close = entry.close;
    this.params = params;
    this.details = options.details;
    this.headers = options.headers ?? {};
  }
}

/** The core API's one error body shape. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    status: number;
    message: string;
    details?: ErrorDetail[];
    requestId?: string;
  };
}

export function errorBody(err: VigilError, requestId?: string): ErrorBody {
  const body: ErrorBody = { error: { code: err.code, status: err.status, message: err.message } };
  if (err.details) body.error.details = err.details;
  if (requestId) body.error.requestId = requestId;
  return body;
}
