/** The gateway's own view of itself, read from its Prometheus endpoint. */
import { metricsHeaders } from '../child-gateway.ts';
export interface ServerSample {
  at: number;
  rssBytes: number;
  cpuSeconds: number;
  heapUsedBytes: number;
  readySockets: number;
  /** Continuous verification counters (absent metrics read 0). */
  cv: ContinuousSample;
}

/** Cumulative continuous-verification figures from /metrics; differences of two samples describe an interval. */
export interface ContinuousSample {
  windowsScored: number;
  windowsFailed: number;
  windowsDropped: number;
  batches: number;
  /** Windows, distinct streams and distinct models summed over batches. */
  batchWindowsSum: number;
  batchStreamsSum: number;
  batchModelsSum: number;
  /** Cumulative bucket counts of windows per batch: [upper bound, count]. */
  batchWindowsBuckets: Array<[number, number]>;
  batchSecondsSum: number;
  framesLate: number;
  missingFrames: number;
  eventLoopLagP99Seconds: number;
  eventLoopUtilization: number;
}

function sum(text: string, name: string): number {
  let total = 0;
  for (const match of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.eE+-]+)$`, 'gm'))) total += Number(match[1]);
  return total;
}

function buckets(text: string, name: string): Array<[number, number]> {
  return [...text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} ([0-9.eE+-]+)$`, 'gm'))].map((m) => [
    m[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(m[1]),
    Number(m[2]),
  ]);
}

function continuous(text: string): ContinuousSample {
  return {
    windowsScored: metric(text, 'vigil_cv_windows_total', 'outcome="scored"') ?? 0,
    windowsFailed: metric(text, 'vigil_cv_windows_total', 'outcome="failed"') ?? 0,
    windowsDropped: sum(text, 'vigil_cv_windows_dropped_total'),
    batches: metric(text, 'vigil_cv_batch_windows_count') ?? 0,
    batchWindowsSum: metric(text, 'vigil_cv_batch_windows_sum') ?? 0,
    batchStreamsSum: metric(text, 'vigil_cv_batch_streams_sum') ?? 0,
    batchModelsSum: metric(text, 'vigil_cv_batch_models_sum') ?? 0,
    batchWindowsBuckets: buckets(text, 'vigil_cv_batch_windows'),
    batchSecondsSum: metric(text, 'vigil_cv_batch_seconds_sum') ?? 0,
    framesLate: metric(text, 'vigil_cv_frames_late_total') ?? 0,
    missingFrames: metric(text, 'vigil_ws_missing_frames_total') ?? 0,
    eventLoopLagP99Seconds: metric(text, 'vigil_nodejs_eventloop_lag_p99_seconds') ?? 0,
    eventLoopUtilization: metric(text, 'vigil_nodejs_eventloop_utilization') ?? Number.NaN,
  };
}

function metric(text: string, name: string, labels = ''): number | undefined {
  const pattern = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : '(?:\\{[^}]*\\})?'} ([0-9.eE+-]+)$`, 'm');
  const match = pattern.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** One sample, or undefined when /metrics is not reachable (the report then omits server figures). */
export async function sampleServer(baseUrl: string): Promise<ServerSample | undefined> {
  try {
    const res = await fetch(new URL('/metrics', baseUrl), { headers: metricsHeaders(), signal: AbortSignal.timeout(2_000) });
    if (!res.ok) return undefined;
    const text = await res.text();
    const rssBytes = metric(text, 'vigil_process_resident_memory_bytes');
    const cpuSeconds = metric(text, 'vigil_process_cpu_seconds_total');
    if (rssBytes === undefined || cpuSeconds === undefined) return undefined;
    return {
      at: Date.now(),
      rssBytes,
      cpuSeconds,
      heapUsedBytes: metric(text, 'vigil_nodejs_heap_size_used_bytes') ?? 0,
      readySockets: metric(text, 'vigil_ws_connections', 'phase="ready"') ?? 0,
      cv: continuous(text),
    };
  } catch {
    return undefined;
  }
}
