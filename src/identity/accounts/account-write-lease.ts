import { randomBytes } from 'node:crypto';
import { VigilError } from '../../../protocol/errors.ts';
import type { RedisClient } from '../../storage/redis.ts';

/*
 * One writer per account at a time, across every gateway process. FerretDB v1 applies an update
 * as read, change, write the whole document: two updates of one account at once can each write
 * back a copy that lacks the other's change. A password change beside a withdrawal then brought
 * the withdrawn account back (active, identifiers and password restored). Account writes are
 * rare (profile edits, status moves, password changes, withdrawal), so a short Redis lease around
 * each costs little; on MongoDB proper it is redundant but harmless.
 */

/** Longer than any single write; a holder that dies lets it lapse. */
const LEASE_MS = 10_000;
/** How long a writer waits for another one's write before answering 503. */
const WAIT_MS = 5_000;
const RETRY_MS = 15;

const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

interface LeaseCommands {
  vigilAccountLeaseRelease(key: string, token: string): Promise<number>;
}

const leaseKey = (userId: string) => `account-write:{${userId}}`;

export class AccountWriteLease {
  private readonly commands: LeaseCommands;

  constructor(private readonly redis: RedisClient) {
    redis.defineCommand('vigilAccountLeaseRelease', { numberOfKeys: 1, lua: RELEASE });
    this.commands = redis as unknown as LeaseCommands;
  }

  /** Runs `write` holding the account's lease; the lease is released whatever `write` does. */
  async hold<T>(userId: string, write: () => Promise<T>): Promise<T> {
    const key = leaseKey(userId);
    const token = randomBytes(12).toString('base64url');
    const deadline = Date.now() + WAIT_MS;
    while ((await this.redis.set(key, token, 'PX', LEASE_MS, 'NX')) !== 'OK') {
      if (Date.now() >= deadline)
        throw new VigilError('DEPENDENCY_UNAVAILABLE', { dependency: 'account storage' }, { headers: { 'retry-after': '1' } });
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
    try {
      return await write();
    } finally {
      await this.commands.vigilAccountLeaseRelease(key, token).catch(() => undefined);
    }
  }

  /** Whether a writer holds the account's lease now (one that died holds it until it lapses). */
  async isHeld(userId: string): Promise<boolean> {
    return (await this.redis.exists(leaseKey(userId))) === 1;
  }
}
