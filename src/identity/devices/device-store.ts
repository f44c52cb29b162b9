import type { Collection, Db } from 'mongodb';
import { isUniqueViolation } from '../accounts/account-store.ts';

/** A device as a client describes it (sign-up, login). */
export interface DeviceInfo {
  id: string;
  pushToken?: string;
  platform?: string;
  brand?: string;
  model?: string;
  osVersion?: string;
}

export interface Device extends DeviceInfo {
  userId: string;
  firstSeenAt: Date;
  lastSeenAt: Date;
}

interface DeviceDocument extends Omit<Device, 'id'> {
  /** `${userId}/${deviceId}`: one record per device per account, unique without a compound index. */
  _id: string;
  deviceId: string;
}

const DESCRIBED = ['pushToken', 'platform', 'brand', 'model', 'osVersion'] as const;

function toDevice(doc: DeviceDocument): Device {
  const { _id, deviceId, ...rest } = doc;
  return { id: deviceId, ...rest };
}

/**
 * The devices an account has used (Mongo `devices`). Shared by sign-up (first device), login and
 * the session concern, which lists and removes them for the user.
 */
export class DeviceStore {
  private readonly collection: Collection<DeviceDocument>;

  constructor(db: Db) {
    this.collection = db.collection<DeviceDocument>('devices');
  }

  async ensureIndexes(): Promise<void> {
    await this.collection.createIndex({ userId: 1, lastSeenAt: -1 }, { name: 'user_last_seen' });
  }

  /** Records the device (first sight) or refreshes what it reports and its last-seen time. */
  async upsert(userId: string, device: DeviceInfo): Promise<Device> {
    const now = new Date();
    const set: Partial<DeviceDocument> = { lastSeenAt: now };
    for (const key of DESCRIBED) if (device[key] !== undefined) set[key] = device[key];
    const _id = `${userId}/${device.id}`;
    const write = () =>
      this.collection.findOneAndUpdate(
        { _id },
        { $set: set, $setOnInsert: { userId, deviceId: device.id, firstSeenAt: now } },
        { upsert: true, returnDocument: 'after' },
      );
    let doc: DeviceDocument | null;
    try {
      doc = await write();
    } catch (err) {
      // Two first sightings raced: the loser's insert collided, so it is now an update.
      if (!isUniqueViolation(err)) throw err;
      doc = await write();
    }
    return toDevice(doc!);
  }

  async list(userId: string): Promise<Device[]> {
    const docs = await this.collection.find({ userId }).sort({ lastSeenAt: -1 }).toArray();
    return docs.map(toDevice);
  }

  async get(userId: string, deviceId: string): Promise<Device | null> {
    const doc = await this.collection.findOne({ _id: `${userId}/${deviceId}` });
    return doc ? toDevice(doc) : null;
  }

  /** True when the device existed. */
  async remove(userId: string, deviceId: string): Promise<boolean> {
    return (await this.collection.deleteOne({ _id: `${userId}/${deviceId}` })).deletedCount > 0;
  }

  async removeAllForUser(userId: string): Promise<number> {
    return (await this.collection.deleteMany({ userId })).deletedCount;
  }
}
