import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs on stdout; secrets are redacted by path so a careless log line cannot leak them. */
export function createLogger(level: string, base: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { service: 'vigil', pid: process.pid, ...base },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'password',
        '*.password',
        'newPassword',
        '*.newPassword',
        'token',
        '*.token',
        'code',
        '*.code',
        'authorization',
        '*.authorization',
        'refreshToken',
        '*.refreshToken',
        // A re-authentication for a model change (socket `reauth`, HTTP `Vigil-Reauth`).
        'reauth',
        '*.reauth',
        'headers["vigil-reauth"]',
        '*.headers["vigil-reauth"]',
      ],
      censor: '[redacted]',
    },
  });
}
