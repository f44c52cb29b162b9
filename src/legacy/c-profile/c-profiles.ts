import type { Collection, Db } from 'mongodb';

/** What C's registration carries beyond the core account (which holds username, mobile, name, gender, birth). */
export interface CProfile {
  /** The account id. */
  _id: string;
  /** C's 22-character user uuid (shortUuid of the account id). */
  uuid: string;
  carrier?: string;
  foreigner?: boolean;
  interests: string[];
  profession: string | null;
  avatar: string | null;
  profile: string | null;
  verificationFiles: Array<{ display_order: number; original: string }>;
  /** Identity-verification keys (본인인증 CI/DI) as the client sent them. */
  uniqueInSite?: string;
  uniqueKey?: string;
  createdAt: Date;
}

/** Mongo collection `legacy_c_profiles`, one document per C account, removed when the account withdraws. */
export class CProfiles {
  private readonly collection: Collection<CProfile>;

  constructor(db: Db) {
    this.collection = db.collection<CProfile>('legacy_c_profiles');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ uuid: 1 }, { unique: true, name: 'uuid_unique' });
  }

  async insert(profile: CProfile): Promise<void> {
    await this.collection.insertOne(profile);
  }

  get(accountId: string): Promise<CProfile | null> {
    return this.collection.findOne({ _id: accountId });
  }

  async remove(accountId: string): Promise<void> {
    await this.collection.deleteOne({ _id: accountId });
  }
}
