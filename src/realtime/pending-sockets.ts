import { clientKey } from '../rate-limits/client-key.ts';

/**
 * Sockets opened without a token hold memory and a timer until they authenticate or time out.
 * This counts them per client address on this process, so one client cannot park thousands.
 */
export class PendingSockets {
  private readonly counts = new Map<string, number>();

  constructor(private readonly maxPerClient: number) {}

  /** Counts one more pending socket for `ip`; false (nothing counted) when it already has the most. */
  admit(ip: string): boolean {
    const key = clientKey(ip);
    const count = this.counts.get(key) ?? 0;
    if (count >= this.maxPerClient) return false;
    this.counts.set(key, count + 1);
    return true;
  }

  /** The socket authenticated or closed. */
  release(ip: string): void {
    const key = clientKey(ip);
    const count = (this.counts.get(key) ?? 1) - 1;
    if (count <= 0) this.counts.delete(key);
    else this.counts.set(key, count);
  }
}
