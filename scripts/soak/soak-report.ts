import type { TrafficWindow } from './soak-traffic.ts';
import { metricsHeaders } from '../child-gateway.ts';

/** The gateway's own view at one moment, from its Prometheus endpoint. */
export interface GatewaySample {
  rssMiB: number;
  heapUsedMiB: number;
  cpuSeconds: number;
  /** monitorEventLoopDelay since the previous scrape (prom-client resets it), ms. */
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Event-loop utilisation (0–1) since the previous scrape; exported by continuous verification when it is on. */
  loopUtilisation: number | undefined;
  readySockets: number;
}

export interface SoakRow {
  /** Seconds since the run started. */
  t: number;
  gateway: GatewaySample;
  /** CPU of the gateway over the interval, % of one core. */
  cpuPercent: number;
  traffic: TrafficWindow;
  /** The soak process's own event-loop delay p99 (ms): a saturated generator would show here. */
  generatorLoopP99Ms: number;
  /** Keys under the soak gateway's Redis prefix (undefined when the Redis is unknown). */
  redisKeys: number | undefined;
}

function metric(text: string, name: string, labels?: string): number | undefined {
  const pattern = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : '(?:\\{[^}]*\\})?'} ([0-9.eE+-]+)$`, 'm');
  const match = pattern.exec(text);
  return match ? Number(match[1]) : undefined;
}

const MiB = 1024 * 1024;

export async function sampleGateway(url: string): Promise<GatewaySample> {
  const text = await (await fetch(`${url}/metrics`, { headers: metricsHeaders(), signal: AbortSignal.timeout(5_000) })).text();
  const need = (name: string, labels?: string) => {
    const value = metric(text, name, labels);
    if (value === undefined) throw new Error(`/metrics has no ${name}`);
    return value;
  };
  return {
    rssMiB: need('vigil_process_resident_memory_bytes') / MiB,
    heapUsedMiB: need('vigil_nodejs_heap_size_used_bytes') / MiB,
    cpuSeconds: need('vigil_process_cpu_seconds_total'),
    loopDelayP50Ms: need('vigil_nodejs_eventloop_lag_p50_seconds') * 1000,
    loopDelayP99Ms: need('vigil_nodejs_eventloop_lag_p99_seconds') * 1000,
    loopDelayMaxMs: need('vigil_nodejs_eventloop_lag_max_seconds') * 1000,
    loopUtilisation: metric(text, 'vigil_nodejs_eventloop_utilization'),
    readySockets: metric(text, 'vigil_ws_connections', 'phase="ready"') ?? 0,
  };
}

/** Least-squares slope of y over x (per unit of x); 0 for fewer than two points. */
export function slope(points: ReadonlyArray<[number, number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export interface SoakSummary {
  rows: number;
  minutes: number;
  /** RSS and heap after warm-up: first, last, lowest, highest, fitted growth per minute. */
  rss: { first: number; last: number; min: number; max: number; slopePerMinute: number };
  heap: { first: number; last: number; min: number; max: number; slopePerMinute: number };
  loopDelayP99Ms: { median: number; max: number };
  loopDelayMaxMs: number;
  cpuPercentMedian: number;
  framesPerSecond: number;
  ackP99MsMedian: number;
  closes: Record<string, number>;
  reconnects: number;
  http: Record<string, number>;
  redisKeys: { first: number | undefined; last: number | undefined };
}

const median = (xs: number[]) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!);
const round = (v: number, d = 1) => Math.round(v * 10 ** d) / 10 ** d;

export function summarise(rows: readonly SoakRow[], warmupSeconds: number): SoakSummary {
  const steady = rows.filter((r) => r.t >= warmupSeconds);
  const use = steady.length >= 2 ? steady : rows;
  const series = (pick: (r: SoakRow) => number) => {
    const values = use.map(pick);
    return {
      first: round(values[0] ?? 0),
      last: round(values.at(-1) ?? 0),
      min: round(Math.min(...values)),
      max: round(Math.max(...values)),
      slopePerMinute: round(slope(use.map((r) => [r.t / 60, pick(r)])), 2),
    };
  };
  const add = (into: Record<string, number>, from: Record<string, number>) => {
    for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
  };
  const closes: Record<string, number> = {};
  const http: Record<string, number> = {};
  for (const row of rows) {
    add(closes, row.traffic.closes);
    add(http, row.traffic.http);
  }
  const seconds = (rows.at(-1)?.t ?? 0) - (rows[0]?.t ?? 0);
  return {
    rows: rows.length,
    minutes: round((rows.at(-1)?.t ?? 0) / 60, 2),
    rss: series((r) => r.gateway.rssMiB),
    heap: series((r) => r.gateway.heapUsedMiB),
    loopDelayP99Ms: {
      median: round(median(use.map((r) => r.gateway.loopDelayP99Ms))),
      max: round(Math.max(...use.map((r) => r.gateway.loopDelayP99Ms))),
    },
    loopDelayMaxMs: round(Math.max(...use.map((r) => r.gateway.loopDelayMaxMs))),
    cpuPercentMedian: round(median(use.map((r) => r.cpuPercent))),
    framesPerSecond: round(seconds > 0 ? rows.slice(1).reduce((s, r) => s + r.traffic.framesSent, 0) / seconds : 0, 0),
    ackP99MsMedian: round(median(use.map((r) => r.traffic.ackP99Ms))),
    closes,
    reconnects: rows.reduce((s, r) => s + r.traffic.reconnects, 0),
    http,
    redisKeys: { first: rows[0]?.redisKeys, last: rows.at(-1)?.redisKeys },
  };
}

export const ROW_HEADER =
  '   t s | sockets | frames/s | ack p50/p99 ms | http/s | http p99 ms | CPU % | RSS MiB | heap MiB | loop p50/p99/max ms | ELU  | gen p99 ms';

export function formatRow(row: SoakRow, intervalSeconds: number): string {
  const httpCount = Object.values(row.traffic.http).reduce((s, v) => s + v, 0);
  const pad = (v: string | number, n: number) => String(v).padStart(n);
  return [
    pad(row.t.toFixed(0), 6),
    pad(row.gateway.readySockets, 7),
    pad(Math.round(row.traffic.framesSent / intervalSeconds), 8),
    pad(`${row.traffic.ackP50Ms.toFixed(1)}/${row.traffic.ackP99Ms.toFixed(1)}`, 14),
    pad((httpCount / intervalSeconds).toFixed(1), 6),
    pad(row.traffic.httpP99Ms.toFixed(1), 11),
    pad(row.cpuPercent.toFixed(0), 5),
    pad(row.gateway.rssMiB.toFixed(1), 7),
    pad(row.gateway.heapUsedMiB.toFixed(1), 8),
    pad(
      `${row.gateway.loopDelayP50Ms.toFixed(1)}/${row.gateway.loopDelayP99Ms.toFixed(1)}/${row.gateway.loopDelayMaxMs.toFixed(0)}`,
      19,
    ),
    pad(row.gateway.loopUtilisation === undefined ? 'n/a' : row.gateway.loopUtilisation.toFixed(2), 4),
    pad(row.generatorLoopP99Ms.toFixed(1), 10),
  ].join(' | ');
}
