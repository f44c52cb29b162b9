import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareSessions } from '../../scripts/load/load-accounts.ts';
import { ProcessDriver } from '../../scripts/load/load-driver.ts';
import { ensureModels } from '../../scripts/load/load-models.ts';
import { LOAD_DEFAULTS, parseLoadOptions } from '../../scripts/load/load-options.ts';
import { percentiles } from '../../scripts/load/latency.ts';
import { wisdmSource } from '../../scripts/load/replay-data.ts';
import { sampleServer } from '../../scripts/load/server-stats.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { WISDM_DIR } from './wisdm.ts';

// `npm run load -- --verify --processes P` against a real gateway: accounts get models over
// HTTP, two child processes replay real recordings on their sockets, and their counters and HDR
// histograms are merged; the server's continuous-verification metrics are read back.

describe('load tester, continuous verification', () => {
  let gw: TestGateway;
  let dir: string;
  beforeAll(async () => {
    gw = await startTestGateway({
      VIGIL_CV_BATCH_DEADLINE_MS: '2',
      // Every simulated device streams the same recordings over and over: replays by design.
      VIGIL_CV_REPLAY_DETECTION: 'false',
    });
    dir = await mkdtemp(join(tmpdir(), 'vigil-load-verify-'));
  });
  afterAll(async () => {
    await gw?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('reads the new options and refuses bad ones by name', () => {
    expect(parseLoadOptions(['--verify', '--processes', '4', '--data', '/tmp/x'])).toMatchObject({
      verify: true,
      processes: 4,
      data: '/tmp/x',
    });
    expect(LOAD_DEFAULTS).toMatchObject({ verify: false, processes: 1 });
    expect(() => parseLoadOptions(['--processes', '0'])).toThrow('--processes must be an integer from 1 to 32, got "0"');
  });

  it('enrols each account once, streams from two processes and merges what they measured', async () => {
    const sessions = await prepareSessions({ baseUrl: gw.url, key: 'verify', count: 4, file: join(dir, 'accounts.json') });
    const source = await wisdmSource(WISDM_DIR);
    const first = await ensureModels({ baseUrl: gw.url, sessions, source });
    expect(first).toMatchObject({ existing: 0, enrolled: 4, failed: 0 });
    expect(await ensureModels({ baseUrl: gw.url, sessions, source })).toMatchObject({ existing: 4, enrolled: 0 });

    const options = {
      ...LOAD_DEFAULTS,
      connections: 8,
      perUser: 2,
      rate: 20,
      channels: 3,
      frameMs: 250,
      ackEvery: 0,
      verify: true,
      data: WISDM_DIR,
    };
    const driver = new ProcessDriver(2, options, gw.url, sessions, true);
    try {
      await driver.connect();
      expect(driver.readyCount()).toBe(8);
      await driver.hold();
      const before = await sampleServer(gw.url);
      await new Promise((resolve) => setTimeout(resolve, 5_000));
      await driver.stop();
      const after = await sampleServer(gw.url);
      const counters = driver.counters();
      // 8 sockets × 4 frames/s × 5 s, windows every 1.25 s once the first 2.5 s are in.
      expect(counters.framesSent).toBeGreaterThan(100);
      expect(counters.verdicts).toBeGreaterThanOrEqual(8 * 2);
      expect(counters.genuine + counters.uncertain + counters.impostor).toBe(counters.verdicts);
      expect(counters.errors).toEqual({});
      const endToEnd = percentiles(driver.histogram('verdictEndToEnd'));
      const server = percentiles(driver.histogram('verdictLatency'));
      expect(endToEnd.count).toBe(counters.verdicts);
      expect(endToEnd.p50).toBeGreaterThanOrEqual(server.p50);
      expect(driver.usage().cpuSeconds).toBeGreaterThan(0);
      expect(after!.cv.windowsScored - before!.cv.windowsScored).toBeGreaterThanOrEqual(counters.verdicts - 8);
      expect(after!.cv.batches).toBeGreaterThan(before!.cv.batches);
      expect(driver.sessions()).toHaveLength(4);
    } finally {
      await driver.close();
    }
    expect(driver.closes()).toEqual({ 1000: 8 });
  });
});
