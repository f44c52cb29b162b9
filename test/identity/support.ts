import type { ErrorBody } from '../../protocol/errors.ts';
import type { StartOptions } from '../../src/gateway/gateway.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';

export const ADMIN_TOKEN = 'identity-test-admin-token-0123456789';

/** Generous limits so a test file's many requests from 127.0.0.1 are not throttled unless it wants to be. */
export const ROOMY_LIMITS: Record<string, string> = {
  VIGIL_SIGNUP_PER_IP_HOURLY: '10000',
  VIGIL_AVAILABILITY_PER_IP_PER_MINUTE: '10000',
  VIGIL_CODE_HOURLY_PER_IP: '10000',
  VIGIL_CODE_VERIFY_PER_IP_HOURLY: '10000',
  VIGIL_CODE_HOURLY_PER_DESTINATION: '100',
  VIGIL_CODE_RESEND_SECONDS: '0',
  VIGIL_LOGIN_PER_IP: '10000',
  VIGIL_LEGACY_PROOF_CHECKS_PER_CLIENT_HOURLY: '10000',
};

/** A gateway with the dev outbox on, the delivery worker embedded, an admin token and roomy limits. */
export function startIdentityGateway(overrides: Record<string, string> = {}, options: StartOptions = {}): Promise<TestGateway> {
  return startTestGateway(
    {
      VIGIL_DEV_OUTBOX: '1',
      VIGIL_ADMIN_TOKEN: ADMIN_TOKEN,
      VIGIL_DELIVERY_BACKOFF_MS: '50',
      ...ROOMY_LIMITS,
      ...overrides,
    },
    options,
  );
}

/** Route tests need no socket: their gateway does not listen, `client(gw)` injects each request. */
export const IN_PROCESS: StartOptions = { listen: false };

export interface Reply<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * A small JSON client: real HTTP to a listening gateway's base URL, or, given a gateway that does
 * not listen, each request injected into its router (the same pipeline, no socket).
 */
export function client(target: string | TestGateway) {
  const call = async <T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<Reply<T>> => {
    const sent = body === undefined ? headers : { 'content-type': 'application/json', ...headers };
    const payload = body === undefined ? undefined : JSON.stringify(body);
    if (typeof target !== 'string' && target.url === '') {
      const reply = await target.inject({ method, path, headers: sent, body: payload });
      const parsed = (reply.body ? JSON.parse(reply.body) : undefined) as T;
      return { status: reply.status, body: parsed, headers: new Headers(reply.headers) };
    }
    const base = typeof target === 'string' ? target : target.url;
    const res = await fetch(base + path, { method, headers: sent, body: payload });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T, headers: res.headers };
  };
  return {
    get: <T = Record<string, unknown>>(path: string, headers?: Record<string, string>) =>
      call<T>('GET', path, undefined, headers),
    post: <T = Record<string, unknown>>(path: string, body?: unknown, headers?: Record<string, string>) =>
      call<T>('POST', path, body, headers),
    patch: <T = Record<string, unknown>>(path: string, body?: unknown, headers?: Record<string, string>) =>
      call<T>('PATCH', path, body, headers),
    del: <T = Record<string, unknown>>(path: string, headers?: Record<string, string>) =>
      call<T>('DELETE', path, undefined, headers),
    bearer: (token: string) => ({ authorization: `Bearer ${token}` }),
    admin: { authorization: `Bearer ${ADMIN_TOKEN}` },
  };
}

export type Client = ReturnType<typeof client>;

export const errorOf = (reply: Reply<unknown>) => (reply.body as ErrorBody).error;

export interface OutboxEntry {
  channel: 'email' | 'sms';
  to: string;
  subject?: string;
  text: string;
  template: string;
}

/** Messages the dev outbox holds for `to`, waiting until at least `count` arrived (delivery is a queued job). */
export async function outbox(api: Client, to: string, count = 1, timeoutMs = 10_000): Promise<OutboxEntry[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reply = await api.get<OutboxEntry[]>(`/v1/dev/outbox?to=${encodeURIComponent(to)}`);
    if (reply.status !== 200) throw new Error(`outbox answered ${reply.status}`);
    if (reply.body.length >= count) return reply.body;
    if (Date.now() > deadline) throw new Error(`outbox for ${to} has ${reply.body.length} messages, waited for ${count}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The six-digit code in a message. */
export function codeIn(text: string): string {
  const match = /\b(\d{6})\b/.exec(text);
  if (!match) throw new Error(`no code in: ${text}`);
  return match[1]!;
}

export async function latestCode(api: Client, to: string, count = 1): Promise<string> {
  const messages = await outbox(api, to, count);
  return codeIn(messages[messages.length - 1]!.text);
}

export interface LoginReply {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  user: { id: string; status: string };
}

export async function login(api: Client, identifier: string, password: string): Promise<LoginReply> {
  const reply = await api.post<LoginReply>('/v1/sessions', { identifier, password });
  if (reply.status !== 201) throw new Error(`login failed: ${reply.status} ${JSON.stringify(reply.body)}`);
  return reply.body;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
