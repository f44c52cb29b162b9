import type { ALoginUser, AUser } from '../../../protocol/legacy/a-realtime.ts';
import type { Account } from '../../identity/accounts/account.ts';
import { ageFrom } from '../../identity/accounts/account.ts';

/** The `user` of A's create answer, in the document's key order. */
export function aUser(account: Account): AUser {
  const { profile } = account;
  const age = profile.birthDate ? ageFrom(profile.birthDate) : (profile.age ?? null);
  return {
    username: account.username ?? '',
    name: profile.name ?? null,
    age,
    gender: profile.gender ?? null,
  };
}

/** The `user` of A's login answer: the same plus `pk`, the account's stable number. */
export function aLoginUser(account: Account): ALoginUser {
  return { pk: account.number, ...aUser(account) };
}
