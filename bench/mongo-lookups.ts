import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { Binary, MongoClient, ObjectId, type Db } from 'mongodb';
import { EnrollmentStore } from '../src/biometrics/enrollment/enrollment-store.ts';
import { ModelStore } from '../src/biometrics/models/model-store.ts';

/**
 * The hot MongoDB-wire lookups before and after they became `_id` reads, on the same data in the
 * same run: `node --import tsx bench/mongo-lookups.ts [N …]` (default 500 2000 5000). For each N a
 * fresh database gets N accounts (with identifier claims), N models (6.4 KB, the size the load
 * run's models have) and N enrolment parts (17.5 KB, likewise), then each lookup is timed both
 * ways — the old filtered query and the store's `_id` path — for random targets, interleaved;
 * medians are printed. FerretDB 1.x answers a filter not on `_id` by scanning the collection.
 */
const SIZES = process.argv.slice(2).map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const MONGO_URL = process.env.MONGO_URL ?? 'mongodb://127.0.0.1:27017';

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function seed(db: Db, n: number): Promise<{ enrollmentIds: ObjectId[] }> {
  const models = new ModelStore(db);
  await models.ensureIndexes();
  const enrollmentIds: ObjectId[] = [];
  const blob = (bytes: number) => new Binary(randomBytes(bytes));
  for (let from = 0; from < n; from += 250) {
    const accounts = [];
    const claims = [];
    const parts = [];
    const rows = [];
    const slots = [];
    const heads = [];
    for (let i = from; i < Math.min(n, from + 250); i++) {
      const userId = `user-${i}`;
      const enrollmentId = new ObjectId();
      enrollmentIds.push(enrollmentId);
      accounts.push({ _id: userId, seq: i + 1, username: `name-${i}`, usernameKey: `name-${i}`, status: 'active', profile: {} });
      claims.push({ _id: `username:name-${i}`, userId, claimedAt: new Date() });
      parts.push({
        _id: `${enrollmentId.toHexString()}:0`,
        enrollmentId,
        userId,
        part: 0,
        segment: 0,
        rows: 1458,
        data: blob(17_400),
      });
      rows.push({
        _id: enrollmentId,
        userId,
        version: 1,
        enrollmentId,
        createdAt: new Date(),
        onnx: blob(4_000),
        params: { w: blob(2_300) },
      });
      slots.push({ _id: `${userId}:1`, userId, version: 1, modelId: enrollmentId });
      heads.push({ _id: userId, version: 1 });
    }
    await db.collection('accounts').insertMany(accounts as never[]);
    await db.collection('account_identifiers').insertMany(claims as never[]);
    await db.collection('enrollment_parts').insertMany(parts as never[]);
    await db.collection('models').insertMany(rows);
    await db.collection('model_versions').insertMany(slots as never[]);
    await db.collection('model_heads').insertMany(heads as never[]);
  }
  return { enrollmentIds };
}

async function timeIt(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function main(): Promise<void> {
  const mongo = new MongoClient(MONGO_URL);
  await mongo.connect();
  const lines: string[] = [
    `${cpus().length} × ${cpus()[0]?.model ?? '?'}, load average at start ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}, ${ROUNDS} rounds, medians in ms`,
    '',
    '| stored | lookup | filtered (before) | by `_id` (after) |',
    '|---:|---|---:|---:|',
  ];
  for (const n of SIZES.length > 0 ? SIZES : [500, 2000, 5000]) {
    const db = mongo.db(`bench_mongo_lookups_${randomBytes(4).toString('hex')}`);
    try {
      const { enrollmentIds } = await seed(db, n);
      const models = new ModelStore(db);
      const enrollments = new EnrollmentStore(db);
      const accounts = db.collection<{ _id: string; usernameKey?: string }>('accounts');
      const claims = db.collection<{ _id: string; userId: string }>('account_identifiers');
      const modelRows = db.collection<{ _id: ObjectId; userId: string; version: number; enrollmentId: ObjectId }>('models');
      const parts = db.collection<{ enrollmentId: ObjectId; part: number }>('enrollment_parts');
      const lookups: Array<[string, (i: number) => Promise<unknown>, (i: number) => Promise<unknown>]> = [
        [
          'account by username (login, sign-up check)',
          (i) => accounts.findOne({ usernameKey: `name-${i}` }),
          async (i) => {
            const claim = await claims.findOne({ _id: `username:name-${i}` });
            return accounts.findOne({ _id: claim?.userId ?? '' });
          },
        ],
        [
          'current model (connect, verify, GET model)',
          (i) => modelRows.findOne({ userId: `user-${i}` }, { sort: { version: -1 }, projection: { onnx: 0, params: 0 } }),
          (i) => models.latest(`user-${i}`),
        ],
        [
          'model of an enrolment (each training job)',
          (i) => modelRows.findOne({ enrollmentId: enrollmentIds[i]! }, { projection: { onnx: 0, params: 0 } }),
          (i) => models.byEnrollment(enrollmentIds[i]!, `user-${i}`),
        ],
        [
          "an enrolment's samples (training, each cohort member)",
          (i) => parts.find({ enrollmentId: enrollmentIds[i]! }).sort({ part: 1 }).toArray(),
          (i) => enrollments.segments({ _id: enrollmentIds[i]! } as Parameters<EnrollmentStore['segments']>[0]),
        ],
      ];
      for (const [name, before, after] of lookups) {
        const times = { before: [] as number[], after: [] as number[] };
        for (let round = 0; round < ROUNDS; round++) {
          const i = Math.floor(Math.random() * n);
          times.before.push(await timeIt(() => before(i)));
          times.after.push(await timeIt(() => after(i)));
        }
        lines.push(`| ${n} | ${name} | ${median(times.before).toFixed(1)} | ${median(times.after).toFixed(2)} |`);
      }
    } finally {
      await db.dropDatabase();
    }
  }
  await mongo.close();
  process.stdout.write(`${lines.join('\n')}\n`);
}

await main();
