import { describe, expect, it } from 'vitest';
import { parseSoakOptions, SOAK_DEFAULTS } from '../../scripts/soak/soak-options.ts';
import { slope, summarise, type SoakRow } from '../../scripts/soak/soak-report.ts';

// `npm run soak` options: documented defaults, every option read, every refusal naming its option.
describe('soak options', () => {
  it('has documented defaults and reads every option', () => {
    expect(parseSoakOptions([])).toEqual(SOAK_DEFAULTS);
    expect(
      parseSoakOptions([
        '--minutes',
        '3',
        '--sockets',
        '500',
        '--rate',
        '20',
        '--channels',
        '6',
        '--per-user',
        '10',
        '--logins-per-second',
        '1.5',
        '--refreshes-per-second',
        '40',
        '--sample-seconds',
        '5',
        '--warmup-seconds',
        '30',
        '--url',
        'http://127.0.0.1:8080/',
        '--json',
      ]),
    ).toEqual({
      minutes: 3,
      sockets: 500,
      rate: 20,
      channels: 6,
      perUser: 10,
      loginsPerSecond: 1.5,
      refreshesPerSecond: 40,
      sampleSeconds: 5,
      warmupSeconds: 30,
      url: 'http://127.0.0.1:8080',
      json: true,
    });
  });

  it.each([
    [['--minutes', '0'], '--minutes must be a number from 1 to 1440, got 0'],
    [['--sockets', '1.5'], '--sockets must be an integer from 1 to 50000, got 1.5'],
    [['--rate', 'fast'], '--rate must be a number from 1 to 1000, got fast'],
    [['--channels', '65'], '--channels must be an integer from 1 to 64, got 65'],
    [['--per-user', '0'], '--per-user must be an integer from 1 to 1000, got 0'],
    [['--logins-per-second', '-1'], '--logins-per-second must be a number from 0 to 200, got -1'],
    [['--refreshes-per-second', '5000'], '--refreshes-per-second must be a number from 0 to 2000, got 5000'],
    [['--sample-seconds', '0'], '--sample-seconds must be an integer from 1 to 600, got 0'],
    [['--minutes', '1', '--warmup-seconds', '60'], '--warmup-seconds (60) must be shorter than the run (--minutes 1)'],
    [['--url', 'http://example.com'], '--url must be an http URL on loopback, got http://example.com'],
    [['--url', 'not a url'], '--url must be an http URL, got not a url'],
    [['--url'], '--url needs a value'],
    [['--sockets'], '--sockets needs a value'],
    [['--turbo'], 'unknown option --turbo'],
  ])('refuses %j: %s', (argv, message) => {
    expect(() => parseSoakOptions(argv)).toThrow(message);
  });
});

describe('soak report', () => {
  it('fits growth per minute by least squares, after the warm-up', () => {
    expect(slope([])).toBe(0);
    expect(
      slope([
        [0, 5],
        [1, 7],
        [2, 9],
      ]),
    ).toBeCloseTo(2);
    const row = (t: number, rss: number): SoakRow => ({
      t,
      gateway: {
        rssMiB: rss,
        heapUsedMiB: 50,
        cpuSeconds: 0,
        loopDelayP50Ms: 10,
        loopDelayP99Ms: 12,
        loopDelayMaxMs: 20,
        loopUtilisation: 0.1,
        readySockets: 1,
      },
      cpuPercent: 10,
      traffic: {
        framesSent: 100,
        acks: 20,
        ackP50Ms: 1,
        ackP99Ms: 2,
        readySockets: 1,
        closes: {},
        reconnects: 0,
        http: { 'refresh 200': 10 },
        httpP50Ms: 1,
        httpP99Ms: 2,
      },
      generatorLoopP99Ms: 11,
      redisKeys: 10,
    });
    // A jump during warm-up is not growth; 1 MiB a minute after it is.
    const rows = [row(0, 100), row(60, 200), row(120, 201), row(180, 202), row(240, 203)];
    const summary = summarise(rows, 60);
    expect(summary.rss.slopePerMinute).toBeCloseTo(1);
    expect(summary.rss.first).toBe(200);
    expect(summary.http).toEqual({ 'refresh 200': 50 });
  });
});
