import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropTestData } from '../../../test/support/gateway.ts';
import { testConfig } from '../../../test/support/config.ts';
import { AuditLog } from '../../audit/audit-log.ts';
import { createLogger } from '../../observability/logger.ts';
import { createMetrics } from '../../observability/metrics.ts';
import type { ChannelConnection } from '../../realtime/channel-hooks.ts';
import { connectMongo, type MongoStore } from '../../storage/mongo.ts';
import { connectRedis, createRedis, type RedisClient } from '../../storage/redis.ts';
import { SessionEvidenceStore } from '../assurance/session-evidence.ts';
import { SessionTrustStore, type OwedStepUp } from '../assurance/session-trust.ts';
import { resolveTrustConfig } from '../trust.ts';
import { ContinuousConnection } from './continuous-connection.ts';
import { createContinuousMetrics } from './continuous-metrics.ts';
import { EvidencePolicy } from './evidence-policy.ts';
import { SessionStandings } from './session-standing.ts';

// Two policies on their own Redis connections stand for two gateway processes sharing the index.
// Clocks are explicit: each call names its `now`, so the gap's arithmetic is checked exactly.

const config = testConfig();
const GAP = 100_000;
const logger = createLogger('silent');
const clients: RedisClient[] = [];
let mongo: MongoStore;

beforeAll(async () => {
  mongo = await connectMongo(config);
});

afterAll(async () => {
  for (const redis of clients) redis.disconnect();
  await mongo?.close();
  await dropTestData(config);
});

interface Process {
  policy: EvidencePolicy;
  standings: SessionStandings;
  trust: SessionTrustStore;
  asked: Array<{ sessionId: string; owed: OwedStepUp }>;
  live: Set<string>;
}

async function gatewayProcess(): Promise<Process> {
  const redis = createRedis(config, 'evidence-test');
  clients.push(redis);
  await connectRedis(redis, 10_000);
  const trust = new SessionTrustStore(redis, 3_600);
  const standings = new SessionStandings(resolveTrustConfig(), trust);
  const asked: Process['asked'] = [];
  const live = new Set<string>();
  const policy = new EvidencePolicy({
    config: { mode: 'streamed', maxGapSeconds: GAP / 1000, stepUpTimeoutSeconds: 120 },
    store: new SessionEvidenceStore(redis),
    trust,
    standings,
    sessionLive: async (sessionId) => live.has(sessionId),
    hasModel: async () => true,
    // As TrustPolicy.askOwed: a socket already asked is not asked again.
    ask: (state, owed) => {
      if (state.stepUp) return;
      state.stepUp = { ...owed, timer: setTimeout(() => {}, 0), checking: false };
      asked.push({ sessionId: state.sessionId, owed });
    },
    audit: new AuditLog(mongo.db, logger),
    metrics: createContinuousMetrics(createMetrics().registry),
    logger,
  });
  return { policy, standings, trust, asked, live };
}

let sessions = 0;

/** A ready socket of a new session on `process`: its standing. */
function socketOf(process: Process, sessionId = `ev-session-${++sessions}`) {
  const conn = { principal: { userId: `ev-user-${sessions}`, sessionId }, isOpen: true } as unknown as ChannelConnection;
  const state = new ContinuousConnection(conn, null, undefined, 0);
  process.live.add(sessionId);
  return { state, standing: process.standings.hold(state, undefined) };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

describe('EvidencePolicy', () => {
  it('a pause shorter than the gap is never judged, though the index lags the last window by up to gap/4', async () => {
    const a = await gatewayProcess();
    const b = await gatewayProcess();
    const t0 = Date.now();
    const { standing } = socketOf(a);
    for (const s of [0, 10, 20, 24]) a.policy.scored(standing, 'genuine', t0 + s * 1000);
    await settle();
    // Indexed once, at the first window: the others were within gap/4 of it.
    expect(standing.evidence.written).toBe(t0);
    // Quiet since 24 s. Near the indexed deadline (100 s) the holding process writes what it saw.
    await a.policy.tick(t0 + 99_000);
    await settle();
    // Another process sweeping past the old deadline finds nothing due, and nobody is asked.
    await b.policy.tick(t0 + 101_000);
    await a.policy.tick(t0 + 101_000);
    expect([...a.asked, ...b.asked]).toEqual([]);
    expect(await a.trust.owedStepUp(standing.sessionId)).toBeUndefined();

    // A full gap after the last window: the holder's socket is asked, once.
    await a.policy.tick(t0 + 124_001);
    expect(a.asked.map((x) => [x.sessionId, x.owed.reason])).toEqual([[standing.sessionId, 'silent']]);
    expect((await a.trust.owedStepUp(standing.sessionId))?.deadline).toBe(t0 + 124_001 + 120_000);
  });

  it('a session streaming on one process is not judged by another holding a quiet socket of it', async () => {
    const a = await gatewayProcess();
    const b = await gatewayProcess();
    const t0 = Date.now();
    const streaming = socketOf(a);
    const quiet = socketOf(b, streaming.standing.sessionId);
    b.policy.held(quiet.standing, undefined, t0); // streamed policy: not watched until it sees something
    a.policy.scored(streaming.standing, 'genuine', t0);
    await settle();
    b.policy.held(quiet.standing, await b.policy.dueOf(quiet.state.userId, quiet.state.sessionId), t0);
    for (let s = 30; s <= 300; s += 30) {
      a.policy.scored(streaming.standing, 'genuine', t0 + s * 1000);
      await settle();
      await b.policy.tick(t0 + s * 1000 + 1);
      await a.policy.tick(t0 + s * 1000 + 1);
    }
    expect([...a.asked, ...b.asked]).toEqual([]);
    expect(quiet.standing.evidence.due).toBeGreaterThan(t0 + 300_000);
  });

  it('impostor windows are no evidence, but start the watch', async () => {
    const a = await gatewayProcess();
    const t0 = Date.now();
    const { standing } = socketOf(a);
    a.policy.scored(standing, 'impostor', t0);
    a.policy.scored(standing, 'impostor', t0 + 50_000);
    await settle();
    await a.policy.tick(t0 + GAP);
    expect(a.asked.map((x) => x.owed.reason)).toEqual(['silent']);
  });

  it('an ended session is dropped from the index, not judged', async () => {
    const a = await gatewayProcess();
    const t0 = Date.now();
    const { state, standing } = socketOf(a);
    a.policy.scored(standing, 'genuine', t0);
    await settle();
    a.standings.release(standing, state); // its socket closed
    a.live.delete(state.sessionId); // and the session ended
    await a.policy.tick(t0 + GAP);
    expect(await a.trust.owedStepUp(state.sessionId)).toBeUndefined();
    expect(await a.policy.dueOf(state.userId, state.sessionId)).toBeUndefined();
  });
});
