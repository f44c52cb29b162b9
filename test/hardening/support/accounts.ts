import { randomBytes } from 'node:crypto';
import type { Credentials } from './http-cases.ts';

/** A real account made over the public API, with a live core session. */
export interface Member {
  username: string;
  email: string;
  phone: string;
  password: string;
  userId: string;
  accessToken: string;
  refreshToken: string;
  sessionId: string;
}

async function post(
  base: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

let counter = 0;

/** A distinct Korean mobile number per call (010-9xxx-xxxx range, never a real subscriber of the tests). */
export function uniquePhone(): string {
  const n = (process.pid * 1000 + ++counter + randomBytes(2).readUInt16BE(0)) % 100_000_000;
  return `+8210${String(n).padStart(8, '0')}`;
}

/** Signs up (username, email, phone, password) and logs in over HTTP. */
export async function signUpMember(base: string, label = 'm'): Promise<Member> {
  const tag = `${label}${randomBytes(4).toString('hex')}`;
  const member = {
    username: `h${tag}`,
    email: `${tag}@hardening.test`,
    phone: uniquePhone(),
    password: `pw ${randomBytes(9).toString('base64url')}`,
  };
  const created = await post(base, '/v1/accounts', {
    username: member.username,
    email: member.email,
    phone: member.phone,
    password: member.password,
  });
  if (created.status !== 201) throw new Error(`sign-up answered ${created.status}: ${JSON.stringify(created.json)}`);
  return { ...member, ...(await logIn(base, member.username, member.password)) };
}

export async function logIn(
  base: string,
  identifier: string,
  password: string,
): Promise<{ userId: string; accessToken: string; refreshToken: string; sessionId: string }> {
  const login = await post(base, '/v1/sessions', { identifier, password });
  if (login.status !== 201) throw new Error(`login answered ${login.status}: ${JSON.stringify(login.json)}`);
  const user = login.json.user as { id: string };
  return {
    userId: user.id,
    accessToken: String(login.json.accessToken),
    refreshToken: String(login.json.refreshToken),
    sessionId: String(login.json.sessionId),
  };
}

/**
 * The fuzzer's credentials: a few accounts whose tokens it plants in requests. A case may end a
 * session (logout, revoke-all, refresh-token reuse); `heal()` logs those accounts in again.
 */
export class CredentialPool implements Credentials {
  readonly members: Member[] = [];
  private readonly aTokens: string[] = [];
  identifiers: string[] = [];

  constructor(
    private readonly base: string,
    readonly admin: string | undefined,
    private readonly withLegacyA: boolean,
  ) {}

  static async create(
    base: string,
    options: { size: number; victims: number; admin?: string; legacyA: boolean },
  ): Promise<CredentialPool> {
    const pool = new CredentialPool(base, options.admin, options.legacyA);
    for (let i = 0; i < options.size; i++) pool.members.push(await signUpMember(base, 'p'));
    // Victims are real accounts the fuzzer names in bodies (and may lock out); never used to log in.
    for (let i = 0; i < options.victims; i++) {
      const victim = await signUpMember(base, 'v');
      pool.identifiers.push(victim.username, victim.email, victim.phone);
    }
    await pool.heal();
    return pool;
  }

  access(i: number): string | undefined {
    return this.members[i % this.members.length]?.accessToken;
  }

  refresh(i: number): string | undefined {
    return this.members[i % this.members.length]?.refreshToken;
  }

  legacyA(i: number): string | undefined {
    return this.aTokens[i % Math.max(1, this.aTokens.length)];
  }

  /** Logs in again every member whose session the fuzzer ended; with `legacyA`, fresh A tokens too. */
  async heal(options: { legacyA?: boolean } = {}): Promise<void> {
    for (const [index, member] of this.members.entries()) {
      const live = await post(this.base, '/v1/tokens/introspect', { token: member.accessToken });
      if (live.json.active === true) continue;
      try {
        Object.assign(member, await logIn(this.base, member.username, member.password));
      } catch {
        // The fuzzer renamed it (PATCH /v1/accounts/me) or otherwise took it over: use a new one.
        this.members[index] = await signUpMember(this.base, 'p');
      }
    }
    if (this.withLegacyA && (options.legacyA || this.aTokens.length === 0)) {
      this.aTokens.length = 0;
      for (const member of this.members) {
        const res = await post(this.base, '/server/members/login/', { username: member.username, password: member.password });
        if (res.status === 200) this.aTokens.push(String(res.json.token));
      }
    }
  }
}
