import type { Collection, Db, ObjectId } from 'mongodb';
import type { Logger } from '../observability/logger.ts';

/** Security events kept in the audit trail. Never carries secrets (passwords, codes, tokens). */
export type AuditEvent =
  | 'account.created'
  | 'account.verified'
  | 'account.approved'
  | 'account.rejected'
  | 'account.updated'
  | 'account.withdrawn'
  | 'login.succeeded'
  | 'login.failed'
  | 'login.locked'
  | 'code.sent'
  | 'code.verified'
  | 'code.failed'
  | 'token.refreshed'
  | 'token.reuse_detected'
  | 'session.logout'
  | 'session.revoked'
  | 'password.changed'
  | 'password.reset'
  | 'device.registered'
  | 'device.removed'
  | 'biometric.enrolled'
  | 'biometric.model_deleted'
  | 'biometric.policy_action'
  | 'biometric.reauth'
  | (string & {});

export interface AuditRecord {
  _id?: ObjectId;
  at: Date;
  event: AuditEvent;
  outcome: 'success' | 'failure';
  userId?: string;
  sessionId?: string;
  ip?: string;
  deviceId?: string;
  userAgent?: string;
  /** Event-specific facts (reason, channel, purpose…); nothing secret. */
  detail?: Record<string, string | number | boolean>;
}

export interface AuditContext {
  ip?: string;
  deviceId?: string;
  userAgent?: string;
  sessionId?: string;
}

export class AuditLog {
  private readonly collection: Collection<AuditRecord>;

  constructor(
    db: Db,
    private readonly logger: Logger,
  ) {
    this.collection = db.collection<AuditRecord>('audit');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ userId: 1, at: -1 });
    await this.collection.createIndex({ at: -1 });
  }

  /**
   * Appends an event. A failing audit write is logged, not thrown: the security action it
   * describes has already happened and must not be reported to the client as failed. It never
   * rejects, so a caller that need not wait for the write may `void` it.
   */
  async record(
    event: AuditEvent,
    outcome: AuditRecord['outcome'],
    fields: { userId?: string; detail?: AuditRecord['detail'] } & AuditContext = {},
  ): Promise<void> {
    const record: AuditRecord = { at: new Date(), event, outcome };
    for (const key of ['userId', 'sessionId', 'ip', 'deviceId', 'userAgent', 'detail'] as const) {
      if (fields[key] !== undefined) (record as unknown as Record<string, unknown>)[key] = fields[key];
    }
    try {
      await this.collection.insertOne(record);
    } catch (err) {
      this.logger.error({ err, event, userId: fields.userId }, 'audit write failed');
    }
  }

  /**
   * Every account's events, newest first, narrowed by any of the filters (the operator console).
   * Paged by (at, _id): events of the same millisecond are neither skipped nor repeated.
   */
  async list(
    filter: { userId?: string; event?: string; outcome?: AuditRecord['outcome']; after?: { at: Date; id: ObjectId } },
    limit: number,
  ): Promise<AuditRecord[]> {
    const query: Record<string, unknown> = {};
    if (filter.userId) query.userId = filter.userId;
    if (filter.event) query.event = filter.event;
    if (filter.outcome) query.outcome = filter.outcome;
    if (filter.after) query.$or = [{ at: { $lt: filter.after.at } }, { at: filter.after.at, _id: { $lt: filter.after.id } }];
    return this.collection.find(query).sort({ at: -1, _id: -1 }).limit(limit).toArray();
  }

  async find(id: ObjectId): Promise<AuditRecord | null> {
    return this.collection.findOne({ _id: id });
  }

  async listForUser(userId: string, options: { limit: number; before?: Date }): Promise<AuditRecord[]> {
    const filter = options.before ? { userId, at: { $lt: options.before } } : { userId };
    return this.collection.find(filter).sort({ at: -1 }).limit(options.limit).toArray();
  }
}
