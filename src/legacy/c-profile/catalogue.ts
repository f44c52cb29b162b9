import type { Collection, Db } from 'mongodb';
import { fieldErrors } from '../../server/http/field-errors.ts';
import type { ErrorDetail } from '../../../protocol/errors.ts';

export type CatalogueKind = 'interests' | 'professions';

export interface CatalogueEntry {
  uuid: string;
  name: string;
  emoji: string;
  /** A media reference (images/interests/…) or an absolute URL; null when there is none. */
  image: string | null;
}

interface EntryDocument {
  /** `${kind}:${uuid}` */
  _id: string;
  kind: CatalogueKind;
  uuid: string;
  name: string;
  emoji: string;
  image: string | null;
  updatedAt: Date;
}

const toEntry = (doc: EntryDocument): CatalogueEntry => ({ uuid: doc.uuid, name: doc.name, emoji: doc.emoji, image: doc.image });

/**
 * C's interests and professions: operator-managed (admin API), referenced by uuid at registration
 * and answered as objects. Mongo collection `legacy_c_catalogue`.
 */
export class Catalogue {
  private readonly collection: Collection<EntryDocument>;

  constructor(db: Db) {
    this.collection = db.collection<EntryDocument>('legacy_c_catalogue');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ kind: 1, name: 1 }, { name: 'kind_name' });
  }

  async list(kind: CatalogueKind): Promise<CatalogueEntry[]> {
    return (await this.collection.find({ kind }).sort({ name: 1 }).toArray()).map(toEntry);
  }

  async put(kind: CatalogueKind, entry: CatalogueEntry): Promise<CatalogueEntry> {
    const _id = `${kind}:${entry.uuid}`;
    const doc: EntryDocument = { _id, kind, ...entry, updatedAt: new Date() };
    await this.collection.replaceOne({ _id }, doc, { upsert: true });
    return entry;
  }

  async remove(kind: CatalogueKind, uuid: string): Promise<boolean> {
    return (await this.collection.deleteOne({ _id: `${kind}:${uuid}` })).deletedCount > 0;
  }

  /** The entries of these uuids, in the order given; uuids no longer in the catalogue are left out. */
  async resolve(kind: CatalogueKind, uuids: readonly string[]): Promise<CatalogueEntry[]> {
    if (uuids.length === 0) return [];
    const docs = await this.collection.find({ _id: { $in: uuids.map((u) => `${kind}:${u}`) } }).toArray();
    const byUuid = new Map(docs.map((d) => [d.uuid, toEntry(d)]));
    return uuids.flatMap((u) => byUuid.get(u) ?? []);
  }

  /** VALIDATION_FAILED naming `field` for every uuid the catalogue does not hold. */
  async assertKnown(kind: CatalogueKind, uuids: readonly string[], field: string): Promise<void> {
    const known = new Set((await this.resolve(kind, uuids)).map((e) => e.uuid));
    const problems: ErrorDetail[] = uuids
      .filter((u) => !known.has(u))
      .map((u) => ({ field, message: `유효하지 않은 pk "${u}" - 객체가 존재하지 않습니다.` }));
    if (problems.length > 0) throw fieldErrors(problems);
  }
}
