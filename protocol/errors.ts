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

  // ── abuse protection ─────────────────────────────────────────────────────
  RATE_LIMITED: { status: 429, close: 4429, message: 'Too many requests; retry in {retryAfter} s' },

  // ── storage ──────────────────────────────────────────────────────────────
  CONFLICT: { status: 409, close: 4500, message: '{field} is already taken' },
  NOT_FOUND: { status: 404, close: 4500, message: '{what} not found' },

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
  MODEL_TRAINING_FAILED: { status: 500, close: 1011, message: 'Model training failed: {reason}' },
  SCORING_FAILED: { status: 503, close: 1011, message: 'Scoring failed: {reason}' },
  SCORING_TIMEOUT: { status: 503, close: 1011, message: 'Scoring did not finish within {timeoutMs} ms' },
  SCORING_OVERLOADED: { status: 503, close: 1013, message: 'Scoring queue is full; retry shortly' },
} as const satisfies Record<string, CatalogueEntry>;

export type ErrorCode = keyof typeof ERRORS;

export interface ErrorDetail {
  /** JSON pointer of the offending field ("/email"), or a header/query name ("query.rate"). */
  field: string;
  message: string;
}

export type ErrorParams = Record<string, string | number>;

function render(template: string, params: ErrorParams): string {
  return template.replace(/\{(\w+)\}/g, (whole, key: string) =>
    key in params ? String(params[key]) : whole,
  );
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
    const entry: CatalogueEntry = ERRORS[code];
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
