import {
  MongoBulkWriteError,
  MongoClient,
  type Collection,
  type Db,
  type Document,
  type OptionalUnlessRequiredId,
  type WriteError,
} from 'mongodb';
import type { Config } from '../config/schema.ts';

/** What this MongoDB-wire server can do; code asks this instead of assuming a real mongod. */
export interface MongoCapabilities {
  /** FerretDB v1 (tests, local dev): no TTL indexes, no transactions, no partial indexes. */
  ferretdb: boolean;
  ttlIndexes: boolean;
  transactions: boolean;
}

export interface MongoStore {
  client: MongoClient;
  db: Db;
  capabilities: MongoCapabilities;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function connectMongo(config: Config): Promise<MongoStore> {
  const client = new MongoClient(config.MONGO_URL, {
    // Fail fast while the database is away so requests answer 503 instead of queueing.
    serverSelectionTimeoutMS: 2_000,
    connectTimeoutMS: 2_000,
    maxPoolSize: 20,
    appName: 'vigil',
  });
  await client.connect();
  const db = client.db(config.MONGO_DB ?? (new URL(config.MONGO_URL).pathname.slice(1) || 'vigil'));
  const capabilities = await detectCapabilities(db);
  return {
    client,
    db,
    capabilities,
    async ping() {
      await db.command({ ping: 1 }, { timeoutMS: 1_000 });
    },
    async close() {
      await client.close();
    },
  };
}

async function detectCapabilities(db: Db): Promise<MongoCapabilities> {
  const admin = db.admin();
  const [build, hello] = await Promise.all([admin.command({ buildInfo: 1 }), admin.command({ hello: 1 })]);
  const ferretdb = 'ferretdbVersion' in build;
  const replicated = typeof hello.setName === 'string' || hello.msg === 'isdbgrid';
  return { ferretdb, ttlIndexes: !ferretdb, transactions: !ferretdb && replicated };
}

/** The server's duplicate-key error: a unique index refused an insert. */
export function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

/**
 * Inserts `doc`; false when a unique index (usually the `_id`) already holds its key. An insert
 * refused on a taken key is the one atomic step FerretDB v1 has, so claims are built on it.
 */
export async function insertUnique<T extends Document>(
  collection: Collection<T>,
  doc: OptionalUnlessRequiredId<T>,
): Promise<boolean> {
  try {
    await collection.insertOne(doc);
    return true;
  } catch (err) {
    if (isDuplicateKey(err)) return false;
    throw err;
  }
}

/**
 * Inserts `docs` in unordered batches (one round trip per `batch`), as start-up back-fills do.
 * Answers how many were written and the documents a unique index refused (written meanwhile by a
 * gateway already serving); any other refusal is thrown.
 */
export async function insertBatched<T extends Document>(
  collection: Collection<T>,
  docs: Array<OptionalUnlessRequiredId<T>>,
  batch = 500,
): Promise<{ written: number; duplicates: Array<OptionalUnlessRequiredId<T>> }> {
  let written = 0;
  const duplicates: Array<OptionalUnlessRequiredId<T>> = [];
  for (let from = 0; from < docs.length; from += batch) {
    const slice = docs.slice(from, from + batch);
    try {
      written += (await collection.insertMany(slice, { ordered: false })).insertedCount;
    } catch (err) {
      if (!(err instanceof MongoBulkWriteError)) throw err;
      const errors = err.writeErrors as WriteError | WriteError[];
      const refused = Array.isArray(errors) ? errors : [errors];
      if (refused.some((e) => e.code !== 11000)) throw err;
      written += slice.length - refused.length;
      for (const e of refused) duplicates.push(slice[e.index]!);
    }
  }
  return { written, duplicates };
}
