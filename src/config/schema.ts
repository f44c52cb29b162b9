import { Type, type Static } from '@sinclair/typebox';
import { DETECTOR_NAMES } from '../../protocol/biometrics.ts';

/**
 * Every environment variable the gateway reads, with its default and why it exists.
 * The README's configuration table is generated from this object (`npm run docs:config`),
 * so a variable is documented exactly once, here.
 */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
    default: 'development',
    description:
      'production refuses development conveniences (the dev outbox) and unencrypted generated signing keys; the dev outbox needs development or test set explicitly.',
  }),
  HOST: Type.String({ default: '127.0.0.1', minLength: 1, description: 'Interface the HTTP/WS listener binds.' }),
  PORT: Type.Integer({ default: 8080, minimum: 0, maximum: 65535, description: 'HTTP and WebSocket port (0 picks a free one).' }),
  MONGO_URL: Type.String({
    default: 'mongodb://127.0.0.1:27017/vigil',
    pattern: '^mongodb(\\+srv)?://',
    description: 'MongoDB (or MongoDB-wire) connection string; the path names the database.',
  }),
  MONGO_DB: Type.Optional(Type.String({ minLength: 1, description: 'Database name; overrides the one in MONGO_URL.' })),
  REDIS_URL: Type.String({
    default: 'redis://127.0.0.1:6379/0',
    pattern: '^rediss?://',
    description: 'Redis for codes, sessions, refresh families, rate limits, pub/sub and BullMQ.',
  }),
  REDIS_CLUSTER_NODES: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9.-]+:[0-9]{1,5}(,[A-Za-z0-9.-]+:[0-9]{1,5})*$',
      description:
        'Redis Cluster seed nodes (host:port,host:port…): the gateway and workers use the cluster instead of REDIS_URL, whose credentials and rediss:// TLS still apply. See docs/operations.md.',
    }),
  ),
  REDIS_SENTINELS: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9.-]+:[0-9]{1,5}(,[A-Za-z0-9.-]+:[0-9]{1,5})*$',
      description:
        'Redis Sentinels (host:port,host:port…) that name the master of REDIS_SENTINEL_MASTER; used instead of REDIS_URL, whose credentials and TLS still apply to the master.',
    }),
  ),
  REDIS_SENTINEL_MASTER: Type.String({
    default: 'vigil',
    pattern: '^[A-Za-z0-9._-]+$',
    description: 'Master name the sentinels monitor (only with REDIS_SENTINELS).',
  }),
  REDIS_WAIT_REPLICAS: Type.Integer({
    default: 0,
    minimum: 0,
    maximum: 16,
    description:
      'Replicas that must hold a session write (login, refresh rotation, revocation) before it is answered (Redis WAIT); 0 answers once the master has it. With replicas, 1 makes an answered rotation or logout survive a master failover.',
  }),
  REDIS_WAIT_TIMEOUT_MS: Type.Integer({
    default: 500,
    minimum: 1,
    maximum: 10_000,
    description: 'How long a write waits for REDIS_WAIT_REPLICAS replicas before it is answered 503 instead.',
  }),
  REDIS_PREFIX: Type.String({
    default: 'vigil:',
    pattern: '^[A-Za-z0-9:_-]*$',
    description: 'Prefix of every Redis key and BullMQ queue, so several deployments can share a Redis.',
  }),
  VIGIL_ADMIN_TOKEN: Type.Optional(
    Type.String({ minLength: 16, description: 'Bearer credential for /v1/admin/*. Unset disables the admin API.' }),
  ),
  VIGIL_METRICS_TOKEN: Type.Optional(
    Type.String({
      minLength: 16,
      description: 'Bearer credential for GET /metrics. Unset: open in development and test, disabled (403) in production.',
    }),
  ),
  VIGIL_INTROSPECTION_TOKEN: Type.Optional(
    Type.String({
      minLength: 16,
      description:
        'Bearer credential for POST /v1/tokens/introspect (resource servers). Unset: open in development and test, disabled (403) in production.',
    }),
  ),
  VIGIL_INTROSPECTION_PER_SECOND: Type.Integer({
    default: 2_000,
    minimum: 1,
    description:
      'Introspections per client address per second on each gateway process (counted in memory, after the credential).',
  }),
  VIGIL_DEV_OUTBOX: Type.Boolean({
    default: false,
    description:
      'Store outgoing mail/SMS in Redis and serve them at GET /v1/dev/outbox. Only with NODE_ENV=development or test set explicitly and HOST on loopback.',
  }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'pino log level.' },
  ),
  HTTP_BODY_LIMIT: Type.Integer({
    default: 1_048_576,
    minimum: 1024,
    description: 'Largest JSON body accepted, in bytes (413 beyond).',
  }),
  UPLOAD_BODY_LIMIT: Type.Integer({
    default: 16_777_216,
    minimum: 1024,
    description: 'Largest upload (CSV, multipart, binary frames) accepted, in bytes (413 beyond).',
  }),
  VIGIL_PROCESSES: Type.String({
    default: '1',
    pattern: '^(auto|[1-9][0-9]?)$',
    description:
      'Gateway processes `npm start` runs on one port (SO_REUSEPORT), supervised and restarted when one dies; auto: one per CPU core. 1 runs the gateway in the entry process itself (docs/operations.md, every core).',
  }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    default: 10_000,
    minimum: 100,
    description: 'Graceful shutdown budget; the process exits when it is spent.',
  }),
  TRUST_PROXY: Type.Boolean({
    default: false,
    description:
      'Take the client IP from X-Forwarded-For: the right-most hop that is not a trusted proxy (VIGIL_TRUSTED_PROXIES), read only when the peer itself is one.',
  }),
  VIGIL_TRUSTED_PROXIES: Type.String({
    default: '127.0.0.0/8,::1/128',
    description:
      'Addresses and CIDR ranges of the proxies in front of the gateway (comma-separated), whose X-Forwarded-For hops are believed when TRUST_PROXY is on.',
  }),
  VIGIL_CONSOLE: Type.Boolean({
    default: false,
    description: 'Serve the operator console at /console (it signs in with VIGIL_ADMIN_TOKEN, which must be set).',
  }),
  VIGIL_CORS_ORIGINS: Type.String({
    default: '',
    pattern: '^(\\*|(https?://[^,\\s/]+)(,\\s*https?://[^,\\s/]+)*)?$',
    description:
      'Browser origins allowed to call the HTTP API (comma-separated, e.g. https://app.example.com, or * for any); empty: no CORS headers.',
  }),
  VIGIL_CORS_CREDENTIALS: Type.Boolean({
    default: false,
    description:
      'Send Access-Control-Allow-Credentials (cookies, HTTP auth); refused with VIGIL_CORS_ORIGINS=*. Bearer tokens do not need it.',
  }),
  VIGIL_CORS_MAX_AGE_SECONDS: Type.Integer({
    default: 600,
    minimum: 0,
    maximum: 86_400,
    description: 'How long browsers may cache a preflight answer.',
  }),

  // ── realtime channel /v1/stream ────────────────────────────────
  VIGIL_WS_MAX_CONNECTIONS_PER_USER: Type.Integer({
    default: 5,
    minimum: 1,
    description: 'Open sockets one account may hold, counted across every gateway process (Redis); one more closes with 4001.',
  }),
  VIGIL_WS_CONNECTION_LEASE_SECONDS: Type.Integer({
    default: 15,
    minimum: 3,
    maximum: 300,
    description: "How long a crashed process's sockets still count towards VIGIL_WS_MAX_CONNECTIONS_PER_USER.",
  }),
  VIGIL_WS_ADMISSION_BATCH: Type.Integer({
    default: 128,
    minimum: 1,
    maximum: 1024,
    description:
      'Socket upgrades admitted against the per-account quota in one Redis script call (those arriving in the same event-loop turn); 1 makes one call per upgrade.',
  }),
  VIGIL_WS_MAX_MESSAGE_BYTES: Type.Integer({
    default: 65_536,
    minimum: 1024,
    maximum: 16_777_216,
    description: 'Largest socket message (frame or JSON) accepted; larger closes with 1009.',
  }),
  VIGIL_WS_MAX_MESSAGES_PER_SECOND: Type.Integer({
    default: 100,
    minimum: 1,
    description:
      'Messages (frames and control messages) one socket may send per second, with a burst of as many; more closes with 4002.',
  }),
  VIGIL_WS_MAX_STREAMS: Type.Integer({
    default: 8,
    minimum: 1,
    maximum: 1024,
    description: 'Sample streams one socket may have open at once.',
  }),
  VIGIL_WS_IDLE_TIMEOUT_SECONDS: Type.Integer({
    default: 60,
    minimum: 8,
    maximum: 960,
    description: 'A socket silent this long is closed; the server pings before that, so only dead peers hit it.',
  }),
  VIGIL_WS_MAX_BACKPRESSURE_BYTES: Type.Integer({
    default: 262_144,
    minimum: 4096,
    description: 'Unsent bytes one socket may queue; a slower reader is closed with 3003 so it cannot grow memory.',
  }),
  VIGIL_WS_MAX_PENDING_PER_CLIENT: Type.Integer({
    default: 20,
    minimum: 1,
    description:
      'Sockets one client address may hold open on a gateway process before authenticating (opened without a token, `auth` not yet sent); more are refused with 429.',
  }),
  VIGIL_WS_AUTH_TIMEOUT_MS: Type.Integer({
    default: 5_000,
    minimum: 100,
    maximum: 60_000,
    description: 'A socket opened without a token must send its `auth` message within this time or is closed with 3002.',
  }),
  VIGIL_WS_EXPIRY_WARNING_SECONDS: Type.Integer({
    default: 60,
    minimum: 0,
    description: 'Seconds before the access token expires that the socket gets an `expiring` message (0: no warning).',
  }),

  // ── identity: accounts, passwords, codes, delivery ─────────────
  VIGIL_PUBLIC_URL: Type.String({
    default: 'http://127.0.0.1:8080',
    pattern: '^https?://',
    description: 'Base URL clients reach the gateway at; verification links in mail point here.',
  }),
  VIGIL_PHONE_REGION: Type.String({
    default: 'KR',
    pattern: '^[A-Z]{2}$',
    description: 'Region (ISO 3166 alpha-2) of national phone numbers without a + prefix, e.g. KR: 01012345678 → +821012345678.',
  }),
  VIGIL_DEFAULT_LOCALE: Type.Union([Type.Literal('ko'), Type.Literal('en')], {
    default: 'ko',
    description: 'Language of mail/SMS when neither the account nor the request names one.',
  }),
  VIGIL_REQUIRE_VERIFICATION: Type.Boolean({
    default: false,
    description: 'New accounts stay `unverified` (cannot log in) until an email or phone is confirmed by code or link.',
  }),
  VIGIL_REQUIRE_APPROVAL: Type.Boolean({
    default: false,
    description: 'New (verified) accounts stay `pending` until an operator approves them via /v1/admin/accounts.',
  }),
  VIGIL_PROFILE_FIELDS: Type.String({
    default: '[]',
    description:
      'Operator-declared profile fields, a JSON list of {name, type: string|number|integer|boolean|date|string[]|json, required?, maxLength?}.',
  }),
  VIGIL_BCRYPT_COST: Type.Integer({
    default: 10,
    minimum: 4,
    maximum: 15,
    description: 'bcrypt cost factor for password hashes; below 10 only when NODE_ENV=test is set explicitly.',
  }),
  VIGIL_BCRYPT_CONCURRENCY: Type.String({
    default: 'auto',
    pattern: '^(auto|[1-9][0-9]?)$',
    description:
      "bcrypt calls on libuv's thread pool at once; more wait in order. auto: the pool size (UV_THREADPOOL_SIZE, default 4) less one and the cores less one, at least 1, so token signing and verification (WebCrypto, same pool) never queue behind a login burst and the event loop keeps a core; more logins per second on few cores at the price of their latency.",
  }),
  VIGIL_BCRYPT_QUEUE_MAX: Type.Integer({
    default: 64,
    minimum: 0,
    description:
      'Password checks and hashes that may wait for a bcrypt slot (VIGIL_BCRYPT_CONCURRENCY); past it a login, sign-up or password change is answered 503 DEPENDENCY_UNAVAILABLE with Retry-After: 1 at once instead of queueing behind seconds of hashing (memory stays bounded under a storm from many addresses).',
  }),
  VIGIL_SIGNUP_PER_IP_HOURLY: Type.Integer({ default: 30, minimum: 1, description: 'Sign-ups accepted per client IP per hour.' }),
  VIGIL_AVAILABILITY_PER_IP_PER_MINUTE: Type.Integer({
    default: 30,
    minimum: 1,
    description: 'Availability checks per client IP per minute (they reveal whether an identifier exists).',
  }),
  VIGIL_PASSWORD_CHECKS_PER_USER_HOURLY: Type.Integer({
    default: 10,
    minimum: 1,
    description:
      'Current-password checks (password change, withdrawal) per account per hour when signed in; per account and client IP when not (dialect B withdrawal).',
  }),
  VIGIL_PASSWORD_CHECKS_ANONYMOUS_PER_USER_HOURLY: Type.Integer({
    default: 50,
    minimum: 1,
    description:
      'Current-password checks per account per hour from callers that are not signed in, all clients together (a budget apart from the signed-in owner’s).',
  }),
  VIGIL_CODE_TTL_SECONDS: Type.String({
    default: 'email=600,sms=180',
    pattern: '^[a-z.]+=\\d+(,[a-z.]+=\\d+)*$',
    description:
      'Lifetime of one-time codes as `key=seconds` pairs; a key is a channel (email, sms), a purpose (login, reset…) or purpose.channel; the most specific wins.',
  }),
  VIGIL_CODE_MAX_ATTEMPTS: Type.Integer({
    default: 5,
    minimum: 1,
    maximum: 20,
    description: 'Wrong guesses after which a code is dead.',
  }),
  VIGIL_CODE_RESEND_SECONDS: Type.Integer({
    default: 60,
    minimum: 0,
    description: 'Cooldown before another code goes to the same destination and purpose.',
  }),
  VIGIL_CODE_HOURLY_PER_DESTINATION: Type.Integer({
    default: 5,
    minimum: 1,
    description: 'Codes sent to one email/phone per hour.',
  }),
  VIGIL_CODE_HOURLY_PER_IP: Type.Integer({
    default: 20,
    minimum: 1,
    description: 'Codes requested from one client IP per hour.',
  }),
  VIGIL_CODE_VERIFY_PER_IP_HOURLY: Type.Integer({
    default: 60,
    minimum: 1,
    description: 'Code/ticket verification attempts per client IP per hour.',
  }),
  VIGIL_TICKET_TTL_SECONDS: Type.Integer({
    default: 600,
    minimum: 1,
    description: 'Lifetime of the single-use ticket a verified code yields (sign-up, reset, login, withdrawal).',
  }),
  VIGIL_VERIFY_LINK_TTL_SECONDS: Type.Integer({
    default: 3600,
    minimum: 1,
    description: 'Lifetime of an email verification link.',
  }),
  VIGIL_EMBEDDED_WORKERS: Type.Boolean({
    default: true,
    description:
      'Run the BullMQ delivery processor inside the gateway; set false when `workers/main.ts` runs as its own service.',
  }),
  VIGIL_DELIVERY_ATTEMPTS: Type.Integer({
    default: 5,
    minimum: 1,
    maximum: 20,
    description: 'Tries per mail/SMS job before it is given up.',
  }),
  VIGIL_DELIVERY_BACKOFF_MS: Type.Integer({
    default: 2_000,
    minimum: 10,
    description: 'First retry delay of a failed mail/SMS job; doubles on each further try.',
  }),
  VIGIL_MAIL_FROM: Type.String({
    default: 'Vigil <no-reply@vigil.local>',
    minLength: 3,
    description: 'From address of outgoing mail.',
  }),
  VIGIL_SMTP_HOST: Type.Optional(
    Type.String({ minLength: 1, description: 'SMTP server for mail; unset means no SMTP (dev outbox only).' }),
  ),
  VIGIL_SMTP_PORT: Type.Integer({ default: 587, minimum: 1, maximum: 65535, description: 'SMTP port.' }),
  VIGIL_SMTP_SECURE: Type.Boolean({
    default: false,
    description: 'Implicit TLS from the first byte (port 465); otherwise STARTTLS when offered.',
  }),
  VIGIL_SMTP_REQUIRE_TLS: Type.Boolean({ default: false, description: 'Refuse to send unless STARTTLS succeeds.' }),
  VIGIL_SMTP_TLS_REJECT_UNAUTHORIZED: Type.Boolean({ default: true, description: 'Verify the SMTP server certificate.' }),
  VIGIL_SMTP_USER: Type.Optional(Type.String({ minLength: 1, description: 'SMTP AUTH user.' })),
  VIGIL_SMTP_PASSWORD: Type.Optional(Type.String({ minLength: 1, description: 'SMTP AUTH password.' })),
  VIGIL_TWILIO_ACCOUNT_SID: Type.Optional(
    Type.String({ minLength: 1, description: 'Twilio account SID; unset means no SMS (dev outbox only).' }),
  ),
  VIGIL_TWILIO_AUTH_TOKEN: Type.Optional(Type.String({ minLength: 1, description: 'Twilio auth token.' })),
  VIGIL_TWILIO_FROM: Type.Optional(
    Type.String({ minLength: 1, description: 'Sender: a Twilio number (E.164) or messaging service SID (MG…).' }),
  ),
  VIGIL_TWILIO_BASE_URL: Type.String({
    default: 'https://api.twilio.com',
    pattern: '^https?://',
    description: 'Twilio REST base URL (a local stand-in in tests).',
  }),

  // ── tokens and sessions ────────────────────────────────────────
  VIGIL_JWT_ISSUER: Type.String({
    default: 'vigil',
    minLength: 1,
    description: 'The `iss` of access tokens; verification requires it.',
  }),
  VIGIL_JWT_AUDIENCE: Type.String({
    default: 'vigil',
    minLength: 1,
    description: 'The `aud` of access tokens; verification requires it.',
  }),
  VIGIL_ACCESS_TOKEN_TTL_SECONDS: Type.Integer({
    default: 900,
    minimum: 1,
    maximum: 86_400,
    description: 'Lifetime of an access token.',
  }),
  VIGIL_JWT_PRIVATE_KEYS: Type.Optional(
    Type.String({
      minLength: 2,
      description:
        'Signing keys from configuration: a JWK set (JSON) of private Ed25519 keys with `kid`; the first signs, the others only verify. Unset: keys are generated into MongoDB and rotated there.',
    }),
  ),
  VIGIL_JWT_KEY_ENCRYPTION_KEY: Type.Optional(
    Type.String({
      pattern: '^[A-Za-z0-9_-]{43}$',
      description: 'base64url of 32 random bytes; when set, generated private keys are stored AES-256-GCM encrypted in MongoDB.',
    }),
  ),
  VIGIL_JWT_KEY_GRACE_SECONDS: Type.Integer({
    default: 1_200,
    minimum: 0,
    description: 'After a rotation, how long tokens of the previous key still verify; keep it above the access token TTL.',
  }),
  VIGIL_JWT_KEYS_POLL_MS: Type.Integer({
    default: 2_000,
    minimum: 50,
    description: 'How often each gateway checks whether another process rotated the signing key.',
  }),
  VIGIL_JWT_CLOCK_TOLERANCE_SECONDS: Type.Integer({
    default: 5,
    minimum: 0,
    maximum: 300,
    description: 'Clock skew allowed when checking exp/nbf/iat.',
  }),
  VIGIL_TOKEN_CACHE_MAX: Type.Integer({
    default: 100_000,
    minimum: 0,
    description: 'Verified access tokens remembered per process (until expiry or revocation); 0 disables the cache.',
  }),
  VIGIL_SESSION_IDLE_TTL_SECONDS: Type.Integer({
    default: 604_800,
    minimum: 1,
    description: 'A session not refreshed for this long ends; must be at least the access token TTL.',
  }),
  VIGIL_SESSION_ABSOLUTE_TTL_SECONDS: Type.Integer({
    default: 2_592_000,
    minimum: 1,
    description: 'A session ends this long after login, however active.',
  }),
  VIGIL_REFRESH_GRACE_MS: Type.Integer({
    default: 2_000,
    minimum: 0,
    maximum: 60_000,
    description:
      'A refresh token presented again this soon after its rotation gets the same new pair (a retried request), not a revocation.',
  }),
  VIGIL_LOGIN_PER_IP: Type.Integer({
    default: 30,
    minimum: 1,
    description: 'Login attempts per client IP per VIGIL_LOGIN_WINDOW_SECONDS.',
  }),
  VIGIL_LOGIN_PER_IDENTIFIER: Type.Integer({
    default: 10,
    minimum: 1,
    description: 'Login attempts per identifier (username, email, phone) per VIGIL_LOGIN_WINDOW_SECONDS.',
  }),
  VIGIL_LOGIN_WINDOW_SECONDS: Type.Integer({ default: 60, minimum: 1, description: 'Window of the login rate limits.' }),
  VIGIL_MFA_KEYS: Type.Optional(
    Type.String({
      description:
        'AES-256-GCM keys sealing authenticator-app secrets at rest: `id:base64-32-bytes[,id:key…]`, the first seals, all open. Unset: secrets are stored in plaintext, and refused (TOTP_UNAVAILABLE) when NODE_ENV=production.',
    }),
  ),
  VIGIL_MFA_PROOF_MAX_AGE_SECONDS: Type.Integer({
    default: 600,
    minimum: 1,
    description: 'Setting up or removing an authenticator app needs a session created by a login this recent.',
  }),
  VIGIL_MFA_TICKET_TTL_SECONDS: Type.Integer({
    default: 300,
    minimum: 30,
    maximum: 1800,
    description: 'How long the MFA ticket between the two login steps lives.',
  }),
  VIGIL_MFA_MAX_ATTEMPTS: Type.Integer({
    default: 5,
    minimum: 1,
    maximum: 20,
    description: 'Wrong second-factor answers that kill an MFA ticket.',
  }),
  VIGIL_MFA_PER_ACCOUNT_HOURLY: Type.Integer({
    default: 20,
    minimum: 1,
    description: 'Second-factor answers per account per hour, whatever the ticket (caps guessing across logins).',
  }),
  VIGIL_MFA_REQUIRE: Type.Union([Type.Literal('off'), Type.Literal('everyone')], {
    default: 'off',
    description:
      'Second-factor policy for the deployment. `off`: an account needs its second factor only once it has one (authenticator app or passkey). `everyone`: a login of an account without one gets a session that can only enrol a factor (MFA_ENROLMENT_REQUIRED everywhere else, sockets and introspection included) until it logs in again with it; legacy dialect logins of such accounts answer MFA_REQUIRED. (Accounts have no admin role to scope this to.)',
  }),
  VIGIL_WEBAUTHN_RP_ID: Type.String({
    default: 'localhost',
    minLength: 1,
    maxLength: 253,
    description:
      'WebAuthn relying-party ID: the registrable domain passkeys are bound to (no scheme or port). Every origin in VIGIL_WEBAUTHN_ORIGINS must be this host or a subdomain of it.',
  }),
  VIGIL_WEBAUTHN_RP_NAME: Type.String({
    default: 'Vigil',
    minLength: 1,
    maxLength: 64,
    description: 'Relying-party name shown by browsers and authenticators when a passkey is created.',
  }),
  VIGIL_WEBAUTHN_ORIGINS: Type.String({
    default: 'http://localhost:8080',
    minLength: 1,
    description:
      'Comma-separated origins (scheme://host[:port]) whose pages may create and use passkeys. Refused at start when a host is not VIGIL_WEBAUTHN_RP_ID or under it, or (NODE_ENV=production) when an origin other than localhost is not https.',
  }),
  VIGIL_WEBAUTHN_CHALLENGE_TTL_SECONDS: Type.Integer({
    default: 120,
    minimum: 1,
    maximum: 600,
    description: 'How long a passkey ceremony challenge lives (single use, in Redis).',
  }),
  VIGIL_WEBAUTHN_TEST_PAGE: Type.Boolean({
    default: false,
    description:
      'Serve /test/passkeys, a page for driving the passkey ceremonies from a real browser. Refused unless NODE_ENV=test or development is set explicitly.',
  }),
  VIGIL_TOTP_ISSUER: Type.String({
    default: 'Vigil',
    minLength: 1,
    maxLength: 64,
    description: 'Issuer shown in authenticator apps.',
  }),
  VIGIL_LOCKOUT_MAX_FAILURES: Type.Integer({
    default: 10,
    minimum: 1,
    description: 'Failed logins within VIGIL_LOCKOUT_WINDOW_SECONDS that lock an identifier.',
  }),
  VIGIL_LOCKOUT_WINDOW_SECONDS: Type.Integer({
    default: 900,
    minimum: 1,
    description: 'Window in which failed logins are counted.',
  }),
  VIGIL_LOCKOUT_SECONDS: Type.Integer({
    default: 900,
    minimum: 1,
    description: 'First lock length; each further lock doubles it.',
  }),
  VIGIL_LOCKOUT_MAX_SECONDS: Type.Integer({ default: 86_400, minimum: 1, description: 'Longest lock.' }),
  VIGIL_LOCKOUT_MEMORY_SECONDS: Type.Integer({
    default: 86_400,
    minimum: 1,
    description: 'How long earlier locks count towards doubling the next one.',
  }),

  // ── biometric enrolment, training and scoring (docs/biometrics.md) ──
  VIGIL_SCORING_THREADS: Type.Integer({
    default: 0,
    minimum: 0,
    maximum: 256,
    description:
      'Piscina scoring threads (onnxruntime-node) per gateway process; 0: one per CPU core (docs/benchmarks.md, continuous verification).',
  }),
  VIGIL_SCORING_MAX_BATCH: Type.Integer({
    default: 64,
    minimum: 1,
    maximum: 4096,
    description: 'Most windows per scoring task; a larger verification is split into concurrent tasks.',
  }),
  VIGIL_SCORING_SESSIONS_PER_WORKER: Type.Integer({
    default: 256,
    minimum: 1,
    description: 'Model sessions each scoring thread keeps loaded (least recently used are released).',
  }),
  VIGIL_SCORING_TIMEOUT_MS: Type.Integer({
    default: 5_000,
    minimum: 100,
    description:
      'A scoring task running or queued longer fails with SCORING_TIMEOUT; its thread is retired (replaced once any onnxruntime call in progress returns, never terminated inside one).',
  }),
  VIGIL_TRAINING_CONCURRENCY: Type.Integer({
    default: 1,
    minimum: 1,
    maximum: 64,
    description:
      'Training jobs one process (gateway with embedded workers, or workers/main.ts) runs at once, each in its own child process.',
  }),
  VIGIL_TRAINING_ATTEMPTS: Type.Integer({
    default: 2,
    minimum: 1,
    maximum: 10,
    description: 'Tries per training job when its child process dies or a store fails; unusable data fails at the first try.',
  }),
  VIGIL_TRAINING_MEMORY_MB: Type.Integer({
    default: 1_024,
    minimum: 64,
    description: 'Heap limit of a training child process; a job that needs more fails (the child dies, not the gateway).',
  }),
  VIGIL_BIOMETRIC_DETECTOR: Type.Union(
    DETECTOR_NAMES.map((name) => Type.Literal(name)),
    {
      default: 'logistic-cohort',
      description:
        'Detector trained for sample signals (motion, PPG, …) when an enrolment names none (docs/biometrics.md compares them).',
    },
  ),
  VIGIL_BIOMETRIC_ROWS_DETECTOR: Type.Union(
    DETECTOR_NAMES.map((name) => Type.Literal(name)),
    {
      default: 'scaled-manhattan',
      description:
        'Detector trained for feature rows (kind=features, e.g. keystroke timings) when an enrolment names none; picked by cross-validation on Keystroke100.',
    },
  ),
  VIGIL_BIOMETRIC_BACKGROUND: Type.String({
    default: 'builtin',
    minLength: 1,
    description:
      'Background population that tops a small cohort up to VIGIL_BIOMETRIC_COHORT_MEMBERS (cold start): builtin (WISDM walking, x/y/z at 20 Hz, default windows), off, or a file built by scripts/eval/build-background.ts. Used only for enrolments with exactly its feature spec.',
  }),
  VIGIL_BIOMETRIC_COHORT_MEMBERS: Type.Integer({
    default: 20,
    minimum: 0,
    maximum: 1_000,
    description:
      'Other accounts whose enrolment windows (same modality, rate and channels) train a cohort detector; 0 or too few: one-class.',
  }),
  VIGIL_BIOMETRIC_KEYS: Type.Optional(
    Type.String({
      description:
        'AES-256-GCM keys sealing biometric data at rest (samples, models): `id:base64-32-bytes[,id:key…]`, the first seals, all open (rotation: docs/biometrics.md). Required in production; unset elsewhere stores plaintext.',
    }),
  ),
  VIGIL_BIOMETRIC_PROOF_MAX_AGE_SECONDS: Type.Integer({
    default: 600,
    minimum: 1,
    maximum: 86_400,
    description:
      'Enrolment, re-enrolment and model deletion need a session logged in (password or code) at most this long ago, and no step-up owed (BIOMETRIC_PROOF_STALE / BIOMETRIC_STEPUP_OWED).',
  }),
  VIGIL_BIOMETRIC_GENUINE_PROOF_SECONDS: Type.Integer({
    default: 30,
    minimum: 4,
    maximum: 3_600,
    description:
      'Replacing or deleting an existing model without re-entering the password (or an authenticator code) needs a window of the session read `genuine` under the current model at most this long ago: the owner streaming now has it, a thief who grabbed the device keeps it at most this long.',
  }),
  VIGIL_BIOMETRIC_COHORT_VETTING: Type.Boolean({
    default: true,
    description:
      'Only verified, active accounts old enough (and few per sign-up address) lend their enrolment to cohorts. false: any ready enrolment of the signature (fixtures without accounts).',
  }),
  VIGIL_BIOMETRIC_COHORT_MIN_ACCOUNT_AGE_SECONDS: Type.Integer({
    default: 604_800,
    minimum: 0,
    description: 'How old an account must be before its enrolment may join other accounts’ cohorts (default 7 days).',
  }),
  VIGIL_BIOMETRIC_COHORT_PER_SIGNUP_IP_DAILY: Type.Integer({
    default: 2,
    minimum: 1,
    description:
      'Cohort pool members at most per sign-up IP address and day: a farm of accounts lends two enrolments, not twenty.',
  }),
  VIGIL_BIOMETRIC_ENROLLMENTS_PER_HOUR: Type.Integer({
    default: 30,
    minimum: 1,
    description: 'Enrolment uploads (new enrolments and further uploads) one account may make per hour.',
  }),
  VIGIL_BIOMETRIC_VERIFY_PER_MINUTE: Type.Integer({
    default: 60,
    minimum: 1,
    description: 'Batch verifications one account may request per minute.',
  }),
  VIGIL_BIOMETRIC_VERIFY_WINDOWS_PER_HOUR: Type.Integer({
    default: 2_000,
    minimum: 1,
    description:
      'Windows one account may have verified per hour over HTTP (and dialect A), across uploads: the answer is only counts and a decision, and this bounds how much an attacker learns from it.',
  }),
  VIGIL_BIOMETRIC_MAX_VERIFY_WINDOWS: Type.Integer({
    default: 20_000,
    minimum: 1,
    description: 'Most windows one verification upload may yield (SAMPLES_TOO_MANY beyond).',
  }),
  VIGIL_BIOMETRIC_DEFAULT_RATE: Type.Number({
    exclusiveMinimum: 0,
    maximum: 10_000,
    default: 20,
    description:
      "Sample rate (Hz) of legacy uploads that declare none (dialect A's files: CSV without a t column, JSON without rate).",
  }),

  // ── continuous verification over /v1/stream (docs/biometrics.md) ──
  VIGIL_CV_ENABLED: Type.Boolean({
    default: true,
    description:
      'Verify socket streams against the user’s model and accept socket enrolment. false: the channel only validates and acks frames.',
  }),
  VIGIL_CV_BATCH_SIZE: Type.Integer({
    default: 64,
    minimum: 1,
    maximum: 4_096,
    description: 'Windows (from all sockets) per scoring task; a full batch is sent at once.',
  }),
  VIGIL_CV_BATCH_DEADLINE_MS: Type.Integer({
    default: 5,
    minimum: 0,
    maximum: 1_000,
    description: 'Longest a window waits for its micro-batch to fill before the batch is sent anyway.',
  }),
  VIGIL_CV_MAX_PENDING_WINDOWS: Type.Integer({
    default: 1_024,
    minimum: 1,
    description:
      'Windows waiting for or in scoring, at most; beyond, new windows are dropped and reported (SCORING_OVERLOADED), so overload never becomes seconds of latency.',
  }),
  VIGIL_CV_FEATURES: Type.Union([Type.Literal('worker'), Type.Literal('main')], {
    default: 'worker',
    description:
      'Where window features are computed: in the scoring threads (worker; spares the event loop) or on the event loop (main).',
  }),
  VIGIL_CV_POLICY_UNCERTAIN: Type.Union([Type.Literal('notify'), Type.Literal('step-up'), Type.Literal('revoke')], {
    default: 'notify',
    description:
      'What a stream entering `uncertain` triggers: notify (the verdict only), step-up, or revoke (the session; close 4540).',
  }),
  VIGIL_CV_POLICY_IMPOSTOR: Type.Union([Type.Literal('notify'), Type.Literal('step-up'), Type.Literal('revoke')], {
    default: 'step-up',
    description:
      'What a stream entering `impostor` triggers: notify, step-up (re-login within VIGIL_CV_STEPUP_TIMEOUT_SECONDS) or revoke.',
  }),
  VIGIL_CV_STEPUP_TIMEOUT_SECONDS: Type.Integer({
    default: 120,
    minimum: 1,
    maximum: 3_600,
    description: 'Time to prove a step-up (log in again, send `stepup`) before the socket closes with STREAM_STEPUP_TIMEOUT.',
  }),
  VIGIL_CV_STEPUP_TIMEOUT_ACTION: Type.Union([Type.Literal('revoke'), Type.Literal('close')], {
    default: 'revoke',
    description:
      'What an unproven step-up ends at its deadline: revoke (the session: HTTP API and refresh stop too) or close (only the socket; a reconnect is asked again by the same deadline).',
  }),
  VIGIL_CV_EVIDENCE_POLICY: Type.Union([Type.Literal('off'), Type.Literal('streamed'), Type.Literal('always')], {
    default: 'streamed',
    description:
      'Which sessions must keep producing scored windows, or owe a step-up (reason `silent`): streamed (a session of an account with a model from its first scored window on: going quiet does not escape verification), always (every session of an account with a model, from its creation: for deployments where every session is a device), off.',
  }),
  VIGIL_CV_EVIDENCE_MAX_GAP_SECONDS: Type.Integer({
    default: 180,
    minimum: 1,
    maximum: 86_400,
    description:
      'Longest a watched session may go without a scored window before it owes a step-up (then VIGIL_CV_STEPUP_TIMEOUT_SECONDS to prove). A device taken off (a watch overnight) loses its session after both.',
  }),
  VIGIL_CV_MAX_ENROLMENT_STREAMS: Type.Integer({
    default: 256,
    minimum: 1,
    description:
      'Socket enrolment streams open at once per gateway process (each buffers at most 512 KiB); beyond, enroll.begin is refused.',
  }),
  VIGIL_CV_REPLAY_DETECTION: Type.Boolean({
    default: true,
    description:
      'Flag windows that repeat samples the account sent before (its enrolment, earlier streams) or whose timestamps run ahead of arrival: verdict `replay`, treated like impostor. Load tests that stream one recording many times turn it off.',
  }),
  VIGIL_CV_REPLAY_QUANTUM: Type.Number({
    default: 0.8,
    exclusiveMinimum: 0,
    description:
      'Step the centred shape of a sample run is quantised to before fingerprinting (units of the samples; tuned on wrist accelerometers, m/s²): larger catches replays under more noise, and more fresh recordings by mistake. `npm run eval:replay` measures both.',
  }),
  VIGIL_CV_CLOCK_SKEW_MS: Type.Integer({
    default: 5_000,
    minimum: 0,
    description: 'How far a frame’s last sample time may lie ahead of its arrival before the stream counts as a replay.',
  }),
  VIGIL_CV_LATE_FRAME_MS: Type.Integer({
    default: 1_000,
    minimum: 1,
    description:
      'A frame arriving this much later than its stream’s best delay (sample time to arrival) counts as late in metrics.',
  }),

  // ── legacy dialects (docs/legacy.md) ────────────────────────────
  VIGIL_LEGACY_DIALECTS: Type.String({
    default: '',
    pattern: '^([a-e](,[a-e])*)?$',
    description:
      'Legacy auth APIs served verbatim, e.g. `a,b,c,d,e` (A /server/*, B /api/auth/*, C /api/registration|token|logout, D /auth|token, E /api/v1/auth/*). Empty: none.',
  }),
  VIGIL_LEGACY_PASSWORD_MIN_LENGTH: Type.Integer({
    default: 8,
    minimum: 1,
    maximum: 72,
    description: 'Shortest new password the legacy dialects accept (their clients enforce their own, often laxer, rules).',
  }),
  VIGIL_LEGACY_TOKEN_TTL_SECONDS: Type.Integer({
    default: 86_400,
    minimum: 60,
    description: "Lifetime of B's HS512 and E's JWTs (the documents show a day); the session behind them may end sooner.",
  }),
  VIGIL_LEGACY_PROOF_CHECKS_PER_CLIENT_HOURLY: Type.Integer({
    default: 30,
    minimum: 1,
    description:
      "Claims of a held legacy proof (E's password change and sign-up after sms_auth_res, B's sign-up and reset after check/auth-code) per client IP per hour, counted before anything is compared.",
  }),
  VIGIL_LEGACY_PROOF_CHECKS_PER_SUBJECT_HOURLY: Type.Integer({
    default: 100,
    minimum: 1,
    description:
      'Claims of a held legacy proof per subject (account id, email, phone) per hour, from every client together; above the per-client limit so one client cannot lock an owner out.',
  }),
  VIGIL_LEGACY_PROOF_MAX_ATTEMPTS: Type.Integer({
    default: 5,
    minimum: 1,
    maximum: 20,
    description: 'Claims by the client that earned a held legacy proof (a wrong code counts) after which the proof is dead.',
  }),
  VIGIL_LEGACY_A_MODEL_WAIT_SECONDS: Type.Integer({
    default: 30,
    minimum: 0,
    maximum: 600,
    description:
      "How long dialect A's make_model waits for its model to be trained before answering (its clients call check_user next); the data is saved either way.",
  }),
  VIGIL_LEGACY_B_JWT_SECRET: Type.Optional(
    Type.String({
      minLength: 64,
      description:
        "HS512 secret (≥ 64 bytes) of dialect B's tokens, shared with B's resource servers. Required when b is enabled.",
    }),
  ),
  VIGIL_LEGACY_C_MEDIA_URL: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description: "Base URL of dialect C's media (uploads, catalogue images); default <VIGIL_PUBLIC_URL>/media/.",
    }),
  ),
  VIGIL_LEGACY_C_S3_URL: Type.Optional(
    Type.String({
      pattern: '^https?://[^:/@]+:[^@]+@',
      description:
        "S3-compatible store for dialect C's uploads: https://<access key>:<secret>@<endpoint>/<bucket>?region=<region>. Unset: the gateway signs and stores uploads itself.",
    }),
  ),
  VIGIL_LEGACY_C_UPLOAD_MAX_BYTES: Type.Integer({
    default: 10_485_760,
    minimum: 1024,
    maximum: 15_728_640,
    description: "Largest file dialect C's presigned uploads accept.",
  }),
  VIGIL_LEGACY_D_VERIFIED_URL: Type.Optional(
    Type.String({
      pattern: '^https?://',
      description: "Where dialect D's email link redirects after activating the account; unset answers with a JSON message.",
    }),
  ),
});

export type Config = Static<typeof ConfigSchema>;
