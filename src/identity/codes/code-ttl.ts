import type { CodeTarget } from './one-time-codes.ts';
import { CODE_PURPOSES } from './one-time-codes.ts';

const CHANNELS = ['email', 'sms'];

/**
 * Parses VIGIL_CODE_TTL_SECONDS ("email=600,sms=180,login.sms=120") into a lookup. Keys are a
 * channel, a purpose, or purpose.channel; the most specific one that matches wins. Throws with a
 * message naming the variable and the bad entry.
 */
export function parseCodeTtls(spec: string, variable = 'VIGIL_CODE_TTL_SECONDS'): (target: CodeTarget) => number {
  const table = new Map<string, number>();
  for (const entry of spec.split(',')) {
    const [key = '', value = ''] = entry.split('=');
    const seconds = Number(value);
    if (!Number.isInteger(seconds) || seconds < 1) throw new Error(`${variable}: "${entry}" must be key=<whole seconds ≥ 1>`);
    const parts = key.split('.');
    const known =
      (parts.length === 1 && (CHANNELS.includes(key) || (CODE_PURPOSES as readonly string[]).includes(key))) ||
      (parts.length === 2 && (CODE_PURPOSES as readonly string[]).includes(parts[0]!) && CHANNELS.includes(parts[1]!));
    if (!known) {
      throw new Error(
        `${variable}: "${key}" is not a channel (${CHANNELS.join(', ')}), a purpose (${CODE_PURPOSES.join(', ')}) or purpose.channel`,
      );
    }
    table.set(key, seconds);
  }
  for (const channel of CHANNELS) {
    if (!table.has(channel)) throw new Error(`${variable}: needs a default for every channel; "${channel}=<seconds>" is missing`);
  }
  return (target) => table.get(`${target.purpose}.${target.channel}`) ?? table.get(target.purpose) ?? table.get(target.channel)!;
}
