import type { CUser } from '../../../protocol/legacy/c-profile.ts';
import { ageFrom, type Account } from '../../identity/accounts/account.ts';
import type { Catalogue } from './catalogue.ts';
import type { CProfile } from './c-profiles.ts';
import { shortUuid } from './short-uuid.ts';

const STATUS: Record<Account['status'], CUser['status']> = {
  active: 'approved',
  pending: 'pending',
  unverified: 'pending',
  rejected: 'rejected',
  withdrawn: 'rejected',
};

/** Where C's media live: `base` for absolute URLs (catalogue images), its path for user images ("/media/…"). */
export interface MediaUrls {
  base: string;
  path: string;
}

export function mediaUrls(configured: string | undefined, publicUrl: string): MediaUrls {
  const base = (configured ?? `${publicUrl.replace(/\/+$/, '')}/media/`).replace(/\/*$/, '/');
  return { base, path: new URL(base).pathname };
}

const absolute = (ref: string | null, media: MediaUrls) =>
  ref === null ? null : /^https?:\/\//.test(ref) ? ref : media.base + ref;

/**
 * C's `user` object, in the document's key order: the core account (username, birth, gender, age,
 * status) plus C's own profile, with interests and profession resolved from the catalogue.
 */
export async function cUser(account: Account, profile: CProfile | null, catalogue: Catalogue, media: MediaUrls): Promise<CUser> {
  const birth = account.profile.birthDate ?? null;
  const interests = await catalogue.resolve('interests', profile?.interests ?? []);
  const [profession] = profile?.profession ? await catalogue.resolve('professions', [profile.profession]) : [];
  return {
    age: birth ? ageFrom(birth) : (account.profile.age ?? null),
    birth,
    gender: account.profile.gender ?? null,
    interests: interests.map((i) => ({ emoji: i.emoji, name: i.name, uuid: i.uuid, image: absolute(i.image, media) })),
    profession: profession ? { emoji: profession.emoji, name: profession.name, uuid: profession.uuid } : null,
    profile: profile?.profile ? media.path + profile.profile : null,
    status: STATUS[account.status],
    username: account.username ?? null,
    uuid: profile?.uuid ?? shortUuid(account.id),
  };
}
