import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestGateway } from '../support/gateway.ts';
import { client, errorOf, startIdentityGateway, IN_PROCESS, type Client } from './support.ts';

// Sign-up, uniqueness and availability through the gateway's router (injected, no socket) on real FerretDB + Redis.
let gw: TestGateway;
let api: Client;
let mongo: MongoClient;

interface AccountBody {
  account: {
    id: string;
    number: number;
    username?: string;
    email?: string;
    phone?: string;
    status: string;
    hasPassword: boolean;
    profile: Record<string, unknown>;
  };
}

beforeAll(async () => {
  gw = await startIdentityGateway(
    {
      VIGIL_PROFILE_FIELDS: JSON.stringify([
        { name: 'interests', type: 'string[]' },
        { name: 'profession', type: 'string', maxLength: 40 },
        { name: 'foreigner', type: 'boolean' },
      ]),
    },
    IN_PROCESS,
  );
  api = client(gw);
  mongo = new MongoClient(gw.config.MONGO_URL);
  await mongo.connect();
});

afterAll(async () => {
  await mongo.close();
  await gw.close();
});

const accounts = () => mongo.db(gw.config.MONGO_DB).collection('accounts');
const fieldsOf = (reply: Parameters<typeof errorOf>[0]) => (errorOf(reply).details ?? []).map((d) => d.field).sort();

describe('sign-up', () => {
  it('by username, with a password and profile', async () => {
    const reply = await api.post<AccountBody>('/v1/accounts', {
      username: 'HyeongGeun2',
      password: 'gudrms12-long',
      profile: { name: 'HyeongGeun Oh', gender: 'male', age: 26 },
    });
    expect(reply.status).toBe(201);
    const { account } = reply.body;
    expect(account).toMatchObject({
      username: 'HyeongGeun2',
      status: 'active',
      hasPassword: true,
      profile: { name: 'HyeongGeun Oh', gender: 'male', age: 26 },
    });
    expect(account.number).toBeGreaterThan(0);
    const stored = await accounts().findOne({ _id: account.id as never });
    expect(stored?.usernameKey).toBe('hyeonggeun2');
    // Hashed at the configured cost (the suite runs at bcrypt's minimum; production refuses below 10).
    const cost = String(gw.config.VIGIL_BCRYPT_COST).padStart(2, '0');
    expect(stored?.passwordHash).toMatch(new RegExp(`^\\$2[aby]\\$${cost}\\$`));
    expect(JSON.stringify(reply.body)).not.toContain('passwordHash');
  });

  it('by email, normalised to lower case', async () => {
    const reply = await api.post<AccountBody>('/v1/accounts', {
      email: 'Kim.MinJi@Example.COM',
      password: 'a strong passphrase',
    });
    expect(reply.status).toBe(201);
    expect(reply.body.account.email).toBe('kim.minji@example.com');
  });

  it('by phone in Korean national format, stored as E.164, without a password (code-only account)', async () => {
    const reply = await api.post<AccountBody>('/v1/accounts', { phone: '010-1234-5678' });
    expect(reply.status).toBe(201);
    expect(reply.body.account).toMatchObject({ phone: '+821012345678', hasPassword: false, status: 'active' });
  });

  it('with operator-declared profile fields and a first device', async () => {
    const reply = await api.post<AccountBody>('/v1/accounts', {
      phone: '+82 10 5555 0001',
      password: 'another passphrase',
      profile: { name: '손흥민', birthDate: '1984-10-23', interests: ['golf', 'tennis'], profession: 'doctor', foreigner: false },
      device: { id: 'EW34WWE', pushToken: 'push-1', platform: 'android', brand: 'samsung', model: 'SM-G991N', osVersion: '14' },
    });
    expect(reply.status).toBe(201);
    const { account } = reply.body;
    expect(account.profile).toMatchObject({
      name: '손흥민',
      birthDate: '1984-10-23',
      interests: ['golf', 'tennis'],
      profession: 'doctor',
      foreigner: false,
    });
    expect(account.profile.age).toBeGreaterThanOrEqual(40);
    const device = await mongo.db(gw.config.MONGO_DB).collection('devices').findOne({ userId: account.id });
    expect(device).toMatchObject({
      deviceId: 'EW34WWE',
      pushToken: 'push-1',
      platform: 'android',
      brand: 'samsung',
      model: 'SM-G991N',
      osVersion: '14',
    });
    expect(device?.firstSeenAt).toBeInstanceOf(Date);
    const audit = await mongo.db(gw.config.MONGO_DB).collection('audit').find({ userId: account.id }).toArray();
    expect(audit.map((a) => a.event).sort()).toEqual(['account.created', 'device.registered']);
  });

  it('accepts Korean usernames', async () => {
    const reply = await api.post<AccountBody>('/v1/accounts', { username: '도도새', password: 'passphrase 12' });
    expect(reply.status).toBe(201);
    expect(reply.body.account.username).toBe('도도새');
  });
});

describe('duplicates', () => {
  it('refuses a taken identifier in any spelling, naming the field', async () => {
    await api.post('/v1/accounts', {
      username: 'dupe.user',
      email: 'dupe@example.com',
      phone: '01077770000',
      password: 'passphrase 12',
    });
    const cases: Array<[Record<string, string>, string]> = [
      [{ username: 'DUPE.user' }, 'username'],
      [{ email: ' Dupe@EXAMPLE.com'.trim() }, 'email'],
      [{ phone: '+82 10-7777-0000' }, 'phone'],
    ];
    for (const [identifier, field] of cases) {
      const reply = await api.post('/v1/accounts', { ...identifier, password: 'passphrase 12' });
      expect(reply.status).toBe(409);
      expect(errorOf(reply)).toMatchObject({ code: 'CONFLICT', message: `${field} is already taken`, details: [{ field }] });
    }
  });

  it('creates exactly one account from concurrent identical sign-ups; the rest get CONFLICT naming the field', async () => {
    const attempts = 12;
    const replies = await Promise.all(
      Array.from({ length: attempts }, (_, i) =>
        api.post('/v1/accounts', { email: 'race@example.com', username: `racer${i}`, password: 'passphrase 12' }),
      ),
    );
    const created = replies.filter((r) => r.status === 201);
    const conflicts = replies.filter((r) => r.status === 409);
    expect(created).toHaveLength(1);
    expect(conflicts).toHaveLength(attempts - 1);
    for (const reply of conflicts) expect(errorOf(reply)).toMatchObject({ code: 'CONFLICT', details: [{ field: 'email' }] });
    expect(await accounts().countDocuments({ email: 'race@example.com' })).toBe(1);
  });

  it('names the phone when concurrent sign-ups collide on it in different spellings', async () => {
    const spellings = ['01088880000', '010-8888-0000', '+821088880000', '+82 010 8888 0000'];
    const replies = await Promise.all(spellings.map((phone) => api.post('/v1/accounts', { phone })));
    expect(replies.filter((r) => r.status === 201)).toHaveLength(1);
    for (const reply of replies.filter((r) => r.status !== 201)) {
      expect(reply.status).toBe(409);
      expect(errorOf(reply).details).toEqual([{ field: 'phone', message: 'phone is already taken' }]);
    }
  });

  it('gives each account its own sequential number', async () => {
    const numbers = (
      await accounts()
        .find({}, { projection: { seq: 1 } })
        .toArray()
    ).map((a) => a.seq as number);
    expect(new Set(numbers).size).toBe(numbers.length);
  });
});

describe('availability', () => {
  it('says which identifiers are free, in their normalised form', async () => {
    await api.post('/v1/accounts', { username: 'taken.name', email: 'taken@example.com', phone: '01066660000' });
    const taken = await api.get('/v1/accounts/availability?username=TAKEN.name&email=Taken@Example.com&phone=010-6666-0000');
    expect(taken.status).toBe(200);
    expect(taken.body).toEqual({
      username: { value: 'taken.name', available: false },
      email: { value: 'taken@example.com', available: false },
      phone: { value: '+821066660000', available: false },
    });
    const free = await api.get('/v1/accounts/availability?username=free.name&phone=01066660001');
    expect(free.body).toEqual({
      username: { value: 'free.name', available: true },
      phone: { value: '+821066660001', available: true },
    });
  });

  it('names a bad query field', async () => {
    const reply = await api.get('/v1/accounts/availability?phone=0101');
    expect(reply.status).toBe(400);
    expect(fieldsOf(reply)).toEqual(['query.phone']);
    const none = await api.get('/v1/accounts/availability');
    expect(none.status).toBe(400);
    expect(fieldsOf(none)).toEqual(['query.username']);
  });

  it('is rate-limited per IP', async () => {
    const limited = await startIdentityGateway({ VIGIL_AVAILABILITY_PER_IP_PER_MINUTE: '3' }, IN_PROCESS);
    try {
      const other = client(limited);
      const statuses: number[] = [];
      for (let i = 0; i < 5; i++) statuses.push((await other.get(`/v1/accounts/availability?username=probe${i}`)).status);
      expect(statuses).toEqual([200, 200, 200, 429, 429]);
      const reply = await other.get('/v1/accounts/availability?username=probe9');
      expect(errorOf(reply).code).toBe('RATE_LIMITED');
      expect(Number(reply.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.close();
    }
  });
});

describe('validation errors name their field', () => {
  it.each([
    [{ email: 'not-an-email', password: 'passphrase 12' }, ['email']],
    [{ phone: '12', password: 'passphrase 12' }, ['phone']],
    [{ phone: '0101234', password: 'passphrase 12' }, ['phone']], // pattern passes, numbering plan does not
    [{ username: '12345678' }, ['username']],
    [{ username: 'ok.name', extra: true }, ['extra']],
    [{ password: 'passphrase 12' }, ['username']],
    [
      { username: 'ok.name2', profile: { age: 'old', interests: 'golf', shoeSize: 42 } },
      ['profile.age', 'profile.interests', 'profile.shoeSize'],
    ],
    [{ username: 'ok.name3', device: { platform: 'ios' } }, ['device.id']],
    [{ username: 'ok.name4', locale: 'fr' }, ['locale']],
  ])('%j → %j', async (body, fields) => {
    const reply = await api.post('/v1/accounts', body);
    expect(reply.status).toBe(400);
    expect(errorOf(reply).code).toBe('VALIDATION_FAILED');
    expect(fieldsOf(reply)).toEqual(fields);
  });

  it('password policy errors are catalogued and name the field', async () => {
    const short = await api.post('/v1/accounts', { username: 'pw.user1', password: 'short' });
    expect(errorOf(short)).toMatchObject({ code: 'PASSWORD_TOO_SHORT', details: [{ field: 'password' }] });
    const long = await api.post('/v1/accounts', { username: 'pw.user2', password: '비밀번호'.repeat(7) });
    expect(long.status).toBe(400);
    expect(errorOf(long)).toMatchObject({
      code: 'PASSWORD_TOO_LONG',
      message: 'password is 84 bytes in UTF-8; bcrypt uses at most 72, so longer passwords are refused',
      details: [{ field: 'password' }],
    });
    const same = await api.post('/v1/accounts', { username: 'pw.user3', password: 'PW.USER3' });
    expect(errorOf(same)).toMatchObject({ code: 'PASSWORD_MATCHES_IDENTIFIER', details: [{ field: 'password' }] });
    expect(await accounts().countDocuments({ usernameKey: { $in: ['pw.user1', 'pw.user2', 'pw.user3'] } })).toBe(0);
  });

  it('sign-ups are rate-limited per IP before any hashing', async () => {
    const limited = await startIdentityGateway({ VIGIL_SIGNUP_PER_IP_HOURLY: '2' }, IN_PROCESS);
    try {
      const other = client(limited);
      const statuses = [];
      for (let i = 0; i < 3; i++)
        statuses.push((await other.post('/v1/accounts', { username: `limited${i}`, password: 'passphrase 12' })).status);
      expect(statuses).toEqual([201, 201, 429]);
    } finally {
      await limited.close();
    }
  });
});
