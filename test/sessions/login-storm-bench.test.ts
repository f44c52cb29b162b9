import * as hdr from 'hdr-histogram-js';
import { describe, expect, it } from 'vitest';
import {
  dueAt,
  dueCount,
  median,
  parseStormOptions,
  ratio,
  STORM_DEFAULTS,
  StormOptionError,
} from '../../bench/login-storm-options.ts';
import { percentiles } from '../../scripts/load/latency.ts';

describe('login storm benchmark options', () => {
  it('has documented defaults and reads every option in both spellings', () => {
    expect(parseStormOptions([])).toEqual(STORM_DEFAULTS);
    expect(
      parseStormOptions([
        '--rounds',
        '5',
        '--seconds=30',
        '--quiet-seconds',
        '12',
        '--bound-seconds',
        '4',
        '--warmup',
        '0',
        '--accounts',
        '500',
        '--clients',
        '32',
        '--introspect-rate',
        '100',
        '--fresh-rate',
        '0',
        '--connect-rate',
        '40',
        '--cost',
        '12',
        '--output',
        '-',
        '--compare',
        'VIGIL_BCRYPT_CONCURRENCY=99,VIGIL_TOKEN_CACHE_MAX=0',
      ]),
    ).toEqual({
      rounds: 5,
      seconds: 30,
      quietSeconds: 12,
      boundSeconds: 4,
      warmup: 0,
      accounts: 500,
      clients: 32,
      introspectRate: 100,
      freshRate: 0,
      connectRate: 40,
      cost: 12,
      output: '-',
      compare: 'VIGIL_BCRYPT_CONCURRENCY=99,VIGIL_TOKEN_CACHE_MAX=0',
    });
  });

  it('names the option it refuses and why', () => {
    const refusal = (argv: string[]) => {
      try {
        parseStormOptions(argv);
      } catch (err) {
        expect(err).toBeInstanceOf(StormOptionError);
        return (err as Error).message;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    expect(refusal(['--clients', '0'])).toBe('--clients must be an integer from 1 to 1000 (got "0")');
    expect(refusal(['--seconds=2.5'])).toBe('--seconds must be an integer from 5 to 300 (got "2.5")');
    // The gateway refuses a cost below 10 in production, so the bound must not be measured below it either.
    expect(refusal(['--cost', '4'])).toBe('--cost must be an integer from 10 to 15 (got "4")');
    expect(refusal(['--rounds'])).toBe('--rounds needs a value');
    expect(refusal(['--compare', 'NODE_ENV=development'])).toBe(
      '--compare must be NAME=VALUE[,NAME=VALUE] of VIGIL_* settings (got "NODE_ENV=development")',
    );
    expect(refusal(['--storm', '3'])).toMatch(/^unknown option --storm \(known: --rounds, --seconds, /);
  });
});

describe('open-loop pacing', () => {
  it('makes the first request due at once and one more every 1/rate seconds', () => {
    expect(dueCount(0, 20)).toBe(1);
    expect(dueCount(49, 20)).toBe(1);
    expect(dueCount(50, 20)).toBe(2);
    expect(dueCount(1000, 20)).toBe(21);
    expect(dueAt(0, 20)).toBe(0);
    expect(dueAt(20, 20)).toBe(1000);
  });

  it('counts every request a late timer missed, so they are all sent and timed from their due times', () => {
    // A client whose timer slept from 99 ms to 499 ms at 50/s owes 20 requests, the first due at 100 ms.
    const before = dueCount(99, 50);
    const after = dueCount(499, 50);
    expect(after - before).toBe(20);
    expect(dueAt(before, 50)).toBe(100);
  });

  it('sends nothing for a stream that is off', () => {
    expect(dueCount(10_000, 0)).toBe(0);
    expect(dueCount(-1, 10)).toBe(0);
  });
});

describe('report arithmetic', () => {
  it('summarises a µs histogram in ms', () => {
    const histogram = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    for (let i = 1; i <= 1000; i++) histogram.recordValue(i * 1000); // 1 ms … 1000 ms
    const summary = percentiles(histogram);
    expect(summary.count).toBe(1000);
    expect(summary.p50).toBeCloseTo(500, -1);
    expect(summary.p90).toBeCloseTo(900, -1);
    expect(summary.p99).toBeCloseTo(990, -1);
    expect(summary.max).toBeCloseTo(1000, -1);
  });

  it('takes medians of odd and even counts', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });

  it('writes ratios short and refuses a zero reference', () => {
    expect(ratio(9.3, 13.5)).toBe('0.69');
    expect(ratio(868, 35)).toBe('24.8');
    expect(ratio(5, 0)).toBe('—');
    expect(ratio(Number.NaN, 1)).toBe('—');
  });
});
