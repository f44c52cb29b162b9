import type { Db } from 'mongodb';
import type { EnrollmentRecord } from '../enrollment/enrollment-store.ts';

/** Who may lend their enrolment to other accounts' cohorts (VIGIL_BIOMETRIC_COHORT_*). */
export interface PoolRules {
  /** Off: every ready enrolment of the signature is a candidate (development fixtures without accounts). */
  vetting: boolean;
  /** The account must be at least this old (seconds). */
  minAccountAgeSeconds: number;
  /** At most this many pool members signed up from one IP address on one day. */
  perSignupIpDaily: number;
}

/** What the pool reads about candidate accounts: status, verification, age and sign-up address. */
export interface PoolAccount {
  id: string;
  status: string;
  verified: boolean;
  createdAt: Date;
  signupIp: string | undefined;
}

export interface PoolAccounts {
  read(ids: readonly string[]): Promise<Map<string, PoolAccount>>;
}

/** The accounts collection and the audit trail (sign-up IP), read directly: the training thread has no services. */
export function poolAccountsOf(db: Db): PoolAccounts {
  return {
    async read(ids) {
      const out = new Map<string, PoolAccount>();
      if (ids.length === 0) return out;
      const accounts = await db
        .collection<{ _id: string; status: string; emailVerifiedAt?: Date; phoneVerifiedAt?: Date; createdAt: Date }>('accounts')
        .find({ _id: { $in: [...ids] } }, { projection: { status: 1, emailVerifiedAt: 1, phoneVerifiedAt: 1, createdAt: 1 } })
        .toArray();
      // The audit trail is the largest collection and FerretDB scans all of it for this query: only
      // accounts that could lend at all (active and verified) need their sign-up address.
      const lenders = accounts.filter(
        (a) => a.status === 'active' && (a.emailVerifiedAt !== undefined || a.phoneVerifiedAt !== undefined),
      );
      const created =
        lenders.length === 0
          ? []
          : await db
              .collection<{ userId: string; ip?: string }>('audit')
              .find(
                { event: 'account.created', userId: { $in: lenders.map((a) => a._id) } },
                { projection: { userId: 1, ip: 1 } },
              )
              .toArray();
      const ips = new Map(created.map((r) => [r.userId, r.ip]));
      for (const a of accounts) {
        out.set(a._id, {
          id: a._id,
          status: a.status,
          verified: a.emailVerifiedAt !== undefined || a.phoneVerifiedAt !== undefined,
          createdAt: a.createdAt,
          signupIp: ips.get(a._id),
        });
      }
      return out;
    },
  };
}

/**
 * The candidates that may join a cohort: verified, active accounts older than the configured
 * age, at most `perSignupIpDaily` per sign-up address and day (a farm of fresh accounts from one
 * place lends one or two enrolments, not twenty). Candidates arrive in random order, so which
 * ones of a crowded address are kept is random too.
 */
export async function vetCandidates(
  candidates: readonly EnrollmentRecord[],
  accounts: PoolAccounts,
  rules: PoolRules,
  now = Date.now(),
): Promise<EnrollmentRecord[]> {
  if (!rules.vetting) return [...candidates];
  const byId = await accounts.read(candidates.map((c) => c.userId));
  const perAddress = new Map<string, number>();
  const kept: EnrollmentRecord[] = [];
  for (const candidate of candidates) {
    const account = byId.get(candidate.userId);
    if (!account || account.status !== 'active' || !account.verified) continue;
    if (now - account.createdAt.getTime() < rules.minAccountAgeSeconds * 1000) continue;
    const address = `${account.signupIp ?? 'unknown'}|${account.createdAt.toISOString().slice(0, 10)}`;
    const count = perAddress.get(address) ?? 0;
    if (count >= rules.perSignupIpDaily) continue;
    perAddress.set(address, count + 1);
    kept.push(candidate);
  }
  return kept;
}
