import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { prepareSessions } from '../../scripts/load/load-accounts.ts';
import { LOAD_DEFAULTS, LoadOptionError, parseLoadOptions } from '../../scripts/load/load-options.ts';
import { LoadRun } from '../../scripts/load/load-run.ts';
import { startTestGateway, type TestGateway } from '../support/gateway.ts';
import { CHANNEL_ONLY } from './support.ts';

describe('load tester options', () => {
  it('has documented defaults and reads every option', () => {
    expect(parseLoadOptions([])).toEqual(LOAD_DEFAULTS);
    expect(
      parseLoadOptions([
        '--connections',
        '2000',
        '--rate=20',
        '--channels',
        '6',
        '--duration',
        '30',
        '--ramp',
        '10',
        '--json',
        '--per-user',
        '3',
        '--url',
        'http://localhost:9000/',
        '--peer',
        'centrifugo',
        '--rounds=5',
        '--variant',
        'VIGIL_X=1,VIGIL_Y=a',
        '--sources',
        '127.0.0.1,127.0.0.2',
        '--upstream',
        '10',
      ]),
    ).toMatchObject({
      connections: 2000,
      rate: 20,
      channels: 6,
      duration: 30,
      ramp: 10,
      json: true,
      perUser: 3,
      url: 'http://localhost:9000',
      peer: 'centrifugo',
      rounds: 5,
      variant: 'VIGIL_X=1,VIGIL_Y=a',
      sources: '127.0.0.1,127.0.0.2',
      upstream: 10,
    });
  });

  it.each([
    [['--connections', '0'], '--connections must be an integer from 1 to 50000, got "0"'],
    [['--connections', '1.5'], '--connections must be an integer from 1 to 50000, got "1.5"'],
    [['--rate', '-1'], '--rate must be a number from 0 to 10000, got "-1"'],
    [['--channels', '65'], '--channels must be an integer from 1 to 64, got "65"'],
    [['--duration', '0'], '--duration must be a number from 1 to 3600, got "0"'],
    [['--duration', '7200'], '--duration must be a number from 1 to 3600, got "7200"'],
    [['--ramp', 'soon'], '--ramp must be a number from 0 to 600, got "soon"'],
    [['--frame-ms', '1'], '--frame-ms must be an integer from 5 to 10000, got "1"'],
    [['--url', 'http://10.0.0.5:8080'], '--url must be a loopback address (127.0.0.1, ::1, localhost); refusing 10.0.0.5'],
    [['--url', 'ws://127.0.0.1'], '--url must be an http:// URL, got "ws://127.0.0.1"'],
    [['--url', 'nope'], '--url must be an http:// URL, got "nope"'],
    [['--connections'], '--connections needs a value'],
    [['--connectoins', '5'], /^unknown option --connectoins; known: --url --connections/],
    [['2000'], 'unexpected argument "2000"; options start with --'],
    [['--peer', 'nats'], '--peer must be centrifugo, got "nats"'],
    [['--rounds', '0'], '--rounds must be an integer from 1 to 15, got "0"'],
    [['--variant', 'lower=1'], '--variant must be NAME=VALUE[,NAME=VALUE], got "lower=1"'],
    [
      ['--sources', '127.0.0.1,10.0.0.2'],
      '--sources must be loopback addresses (127.x.y.z), comma-separated; refusing "10.0.0.2"',
    ],
    [['--upstream', '-2'], '--upstream must be a number from 0 to 1000, got "-2"'],
  ])('refuses %j', (argv, message) => {
    expect(() => parseLoadOptions(argv)).toThrow(LoadOptionError);
    expect(() => parseLoadOptions(argv)).toThrow(message);
  });
});

describe('load tester against a real gateway', () => {
  let gw: TestGateway;
  let dir: string;
  beforeAll(async () => {
    gw = await startTestGateway(CHANNEL_ONLY);
    dir = await mkdtemp(join(tmpdir(), 'vigil-load-'));
  });
  afterAll(async () => {
    await gw?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('signs up accounts over HTTP, streams, is acked, and reuses the accounts next time', async () => {
    const file = join(dir, 'accounts.json');
    const sessions = await prepareSessions({ baseUrl: gw.url, key: 'test', count: 2, file });
    expect(sessions).toHaveLength(2);
    const stored = JSON.parse(await readFile(file, 'utf8')) as Record<
      string,
      { accounts: Array<{ username: string; refreshToken: string }> }
    >;
    expect(stored.test!.accounts.map((a) => a.username)).toEqual([
      expect.stringMatching(/^load-[0-9a-f]{6}-0$/),
      expect.stringMatching(/-1$/),
    ]);

    const options = { ...LOAD_DEFAULTS, connections: 6, perUser: 3, rate: 50, channels: 3, frameMs: 50 };
    const run = new LoadRun(options, gw.url, sessions);
    run.startStreaming();
    await run.connectAll();
    expect(run.readyCount).toBe(6);
    expect(run.connectFailures).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    run.stopStreaming();
    await new Promise((resolve) => setTimeout(resolve, 200));
    // 6 sockets × 20 frames/s × ~1 s, every one acknowledged by the server.
    expect(run.counters.framesSent).toBeGreaterThan(60);
    expect(run.counters.framesAcked).toBe(run.counters.framesSent);
    expect(run.ackLatency.totalCount).toBe(run.counters.framesSent);
    expect(run.closes).toEqual({});
    await run.closeAll();
    expect(run.closes).toEqual({ 1000: 6 });

    // A second run refreshes the kept sessions instead of signing up again.
    const again = await prepareSessions({ baseUrl: gw.url, key: 'test', count: 2, file });
    expect(again.map((s) => s.refreshToken)).not.toEqual(sessions.map((s) => s.refreshToken));
    const accounts = await gw.gateway.mongo.db.collection('accounts').countDocuments({ username: /^load-/ });
    expect(accounts).toBe(2);
  });
});
