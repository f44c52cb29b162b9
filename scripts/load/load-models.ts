import type { TokenPair } from '../../protocol/client/index.ts';
import type { ReplaySource } from './replay-data.ts';

/**
 * Gives every load account a biometric model through the public API, once: accounts that have
 * one (`GET /v1/biometrics/model`) keep it; the others upload their subject's enrolment
 * recording as CSV (`POST /v1/biometrics/enrollments`) and wait until training is done. Models
 * live in the gateway's database, so later runs against the same database skip this.
 */
export interface ModelPreparation {
  existing: number;
  enrolled: number;
  failed: number;
  seconds: number;
}

async function api(
  baseUrl: string,
  token: string,
  path: string,
  init: RequestInit = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(new URL(path, baseUrl), {
    ...init,
    headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string> | undefined) },
  });
  return { status: res.status, json: (await res.json().catch(() => ({}))) as Record<string, unknown> };
}

function csv(channels: readonly string[], data: Float32Array): string {
  const c = channels.length;
  const lines = [channels.join(',')];
  for (let i = 0; i < data.length; i += c) lines.push(Array.from(data.subarray(i, i + c), (v) => v.toFixed(4)).join(','));
  return `${lines.join('\n')}\n`;
}

export async function ensureModels(options: {
  baseUrl: string;
  sessions: readonly TokenPair[];
  source: ReplaySource;
  onProgress?(done: number, total: number): void;
  /**
   * A new login's access token for the index-th account. Uploads of thousands of enrolments on a
   * busy machine outlast the recent-login window enrolment needs (BIOMETRIC_PROOF_STALE) and the
   * polling outlasts access tokens (401): each is answered by logging that account in again.
   */
  relogin?: (index: number) => Promise<string>;
}): Promise<ModelPreparation> {
  const { baseUrl, sessions, source, relogin } = options;
  /** Calls with the account's token, logging it in again once when the answer says the login is too old. */
  const asAccount = async (entry: { token: string; index: number }, path: string, init: RequestInit = {}) => {
    let reply = await api(baseUrl, entry.token, path, init);
    const code = (reply.json.error as { code?: string } | undefined)?.code;
    if (relogin && (reply.status === 401 || code === 'BIOMETRIC_PROOF_STALE')) {
      entry.token = await relogin(entry.index);
      reply = await api(baseUrl, entry.token, path, init);
    }
    return reply;
  };
  const started = performance.now();
  const result: ModelPreparation = { existing: 0, enrolled: 0, failed: 0, seconds: 0 };
  const pending: Array<{ token: string; id: string; index: number }> = [];
  // Which accounts already have a model: a few questions at a time.
  const has = new Array<boolean>(sessions.length).fill(false);
  let next = 0;
  const ask = async () => {
    while (next < sessions.length) {
      const index = next++;
      const model = await api(baseUrl, sessions[index]!.accessToken, '/v1/biometrics/model');
      if (model.status !== 200 && model.status !== 404) {
        throw new Error(`GET /v1/biometrics/model answered ${model.status}: ${JSON.stringify(model.json)}`);
      }
      has[index] = model.status === 200;
    }
  };
  await Promise.all(Array.from({ length: 8 }, ask));
  for (const [index, pair] of sessions.entries()) {
    if (has[index]) {
      result.existing++;
      continue;
    }
    const subject = source.subjects[index % source.subjects.length]!;
    const entry = { token: pair.accessToken, index };
    const upload = await asAccount(entry, `/v1/biometrics/enrollments?rate=${source.rate}&modality=motion`, {
      method: 'POST',
      headers: { 'content-type': 'text/csv' },
      body: csv(source.channels, source.enrolment(subject)),
    });
    if (upload.status !== 202) throw new Error(`enrolment upload answered ${upload.status}: ${JSON.stringify(upload.json)}`);
    pending.push({ ...entry, id: String(upload.json.enrollmentId) });
  }
  // Training runs in the gateway's BullMQ worker, one job after another, so jobs finish in the
  // order they were queued: ask about the oldest few only.
  let done = result.existing;
  options.onProgress?.(done, sessions.length);
  while (pending.length > 0) {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const oldest = pending.slice(0, 4);
    const views = await Promise.all(oldest.map((entry) => asAccount(entry, `/v1/biometrics/enrollments/${entry.id}`)));
    views.forEach((view, i) => {
      const status = view.json.status;
      if (status !== 'ready' && status !== 'failed') return;
      pending.splice(pending.indexOf(oldest[i]!), 1);
      if (status === 'ready') result.enrolled++;
      else result.failed++;
      options.onProgress?.(++done, sessions.length);
    });
  }
  result.seconds = Math.round((performance.now() - started) / 1000);
  return result;
}
