import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { TokenPair } from '../../protocol/client/index.ts';

/**
 * Test accounts for the load tester, made through the public HTTP API (`POST /v1/accounts`,
 * `POST /v1/sessions`) and kept in a file between runs. A kept account is refreshed
 * (`POST /v1/sessions/refresh`, no bcrypt), logged in again if that fails, and signed up only
 * if it does not exist yet. These are throwaway accounts on a local gateway: their passwords sit
 * in the file in the clear.
 */

interface StoredAccount {
  username: string;
  password: string;
  refreshToken?: string;
}

type AccountsFile = Record<string, { tag: string; accounts: StoredAccount[] }>;

export class GatewayRefused extends Error {
  override readonly name = 'GatewayRefused';
}

async function call(baseUrl: string, path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(new URL(path, baseUrl), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (res.status === 429) {
    throw new GatewayRefused(
      `${path} answered 429 (${JSON.stringify(json)}). The gateway's abuse limits stop mass sign-up/login from one IP: ` +
        'start it with higher VIGIL_SIGNUP_PER_IP_HOURLY, VIGIL_LOGIN_PER_IP and VIGIL_LOGIN_PER_IDENTIFIER, or use --spawn.',
    );
  }
  return { status: res.status, json };
}

const pairOf = (json: Record<string, unknown>): TokenPair => ({
  accessToken: String(json.accessToken),
  refreshToken: String(json.refreshToken),
});

async function sessionFor(baseUrl: string, account: StoredAccount): Promise<TokenPair> {
  if (account.refreshToken) {
    const refreshed = await call(baseUrl, '/v1/sessions/refresh', { refreshToken: account.refreshToken });
    if (refreshed.status === 200) return pairOf(refreshed.json);
  }
  const credentials = { identifier: account.username, password: account.password };
  let login = await call(baseUrl, '/v1/sessions', credentials);
  if (login.status === 401) {
    const signUp = await call(baseUrl, '/v1/accounts', { username: account.username, password: account.password });
    if (signUp.status !== 201)
      throw new GatewayRefused(`sign-up of ${account.username} answered ${signUp.status}: ${JSON.stringify(signUp.json)}`);
    login = await call(baseUrl, '/v1/sessions', credentials);
  }
  if (login.status !== 201)
    throw new GatewayRefused(`login of ${account.username} answered ${login.status}: ${JSON.stringify(login.json)}`);
  return pairOf(login.json);
}

/** One live session (token pair) per account, `count` accounts. */
export async function prepareSessions(options: {
  baseUrl: string;
  key: string;
  count: number;
  file: string;
  onProgress?(done: number): void;
}): Promise<TokenPair[]> {
  const store = ((await readFile(options.file, 'utf8').then(JSON.parse, () => ({}))) ?? {}) as AccountsFile;
  const entry = (store[options.key] ??= { tag: randomBytes(3).toString('hex'), accounts: [] });
  while (entry.accounts.length < options.count) {
    entry.accounts.push({
      username: `load-${entry.tag}-${entry.accounts.length}`,
      password: randomBytes(12).toString('base64url'),
    });
  }
  const accounts = entry.accounts.slice(0, options.count);
  const pairs = new Array<TokenPair>(accounts.length);
  let next = 0;
  let done = 0;
  const save = () =>
    mkdir(dirname(options.file), { recursive: true }).then(() => writeFile(options.file, JSON.stringify(store, null, 1)));
  // A few at a time: logins and sign-ups run bcrypt on the gateway's two cores.
  const worker = async () => {
    while (next < accounts.length) {
      const index = next++;
      const account = accounts[index]!;
      pairs[index] = await sessionFor(options.baseUrl, account);
      account.refreshToken = pairs[index].refreshToken;
      options.onProgress?.(++done);
    }
  };
  try {
    await Promise.all(Array.from({ length: 4 }, worker));
  } finally {
    await save();
  }
  return pairs;
}

/**
 * A new login (not a refresh) of the `index`-th kept account: a fresh proof for what needs a recent
 * login (enrolling a model), or a new access token when a long phase outlived the first one.
 */
export async function freshLogin(options: { baseUrl: string; key: string; file: string }, index: number): Promise<TokenPair> {
  const store = (await readFile(options.file, 'utf8').then(JSON.parse, () => ({}))) as AccountsFile;
  const account = store[options.key]?.accounts[index];
  if (!account) throw new Error(`no kept account ${index} under ${options.key} in ${options.file}`);
  const login = await call(options.baseUrl, '/v1/sessions', { identifier: account.username, password: account.password });
  if (login.status !== 201)
    throw new GatewayRefused(`login of ${account.username} answered ${login.status}: ${JSON.stringify(login.json)}`);
  return pairOf(login.json);
}

/** Remembers the refresh tokens the run rotated to, so the next run can refresh instead of log in. */
export async function rememberRefreshTokens(file: string, key: string, pairs: readonly TokenPair[]): Promise<void> {
  const store = (await readFile(file, 'utf8').then(JSON.parse, () => ({}))) as AccountsFile;
  const entry = store[key];
  if (!entry) return;
  pairs.forEach((pair, index) => {
    if (entry.accounts[index]) entry.accounts[index].refreshToken = pair.refreshToken;
  });
  await writeFile(file, JSON.stringify(store, null, 1));
}
