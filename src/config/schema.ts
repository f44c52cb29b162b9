import { Type, type Static } from '@sinclair/typebox';

/**
 * Every environment variable the gateway reads, with its default and why it exists.
 * The README's configuration table is generated from this object (`npm run docs:config`),
 * so a variable is documented exactly once, here.
 */
export const ConfigSchema = Type.Object({
  NODE_ENV: Type.Union([Type.Literal('development'), Type.Literal('test'), Type.Literal('production')], {
    default: 'development',
    description: 'production refuses development conveniences such as the dev outbox.',
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
  REDIS_PREFIX: Type.String({
    default: 'vigil:',
    pattern: '^[A-Za-z0-9:_-]*$',
    description: 'Prefix of every Redis key and BullMQ queue, so several deployments can share a Redis.',
  }),
  VIGIL_ADMIN_TOKEN: Type.Optional(
    Type.String({ minLength: 16, description: 'Bearer credential for /v1/admin/*. Unset disables the admin API.' }),
  ),
  VIGIL_DEV_OUTBOX: Type.Boolean({
    default: false,
    description: 'Store outgoing mail/SMS in Redis and serve them at GET /v1/dev/outbox. Refused in production.',
  }),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((level) => Type.Literal(level)),
    { default: 'info', description: 'pino log level.' },
  ),
  HTTP_BODY_LIMIT: Type.Integer({ default: 1_048_576, minimum: 1024, description: 'Largest JSON body accepted, in bytes (413 beyond).' }),
  UPLOAD_BODY_LIMIT: Type.Integer({
    default: 16_777_216,
    minimum: 1024,
    description: 'Largest upload (CSV, multipart, binary frames) accepted, in bytes (413 beyond).',
  }),
  SHUTDOWN_TIMEOUT_MS: Type.Integer({
    default: 10_000,
    minimum: 100,
    description: 'Graceful shutdown budget; the process exits when it is spent.',
  }),
  TRUST_PROXY: Type.Boolean({
    default: false,
    description: 'Take the client IP from X-Forwarded-For (only behind a proxy you control).',
  }),
});

export type Config = Static<typeof ConfigSchema>;
