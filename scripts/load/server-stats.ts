/** The gateway's own view of itself, read from its Prometheus endpoint. */
export interface ServerSample {
  at: number;
  rssBytes: number;
  cpuSeconds: number;
  heapUsedBytes: number;
  readySockets: number;
}

function metric(text: string, name: string, labels = ''): number | undefined {
  const pattern = new RegExp(`^${name}${labels ? `\\{${labels}\\}` : '(?:\\{[^}]*\\})?'} ([0-9.eE+-]+)$`, 'm');
  const match = pattern.exec(text);
  return match ? Number(match[1]) : undefined;
}

/** One sample, or undefined when /metrics is not reachable (the report then omits server figures). */
export async function sampleServer(baseUrl: string): Promise<ServerSample | undefined> {
  try {
    const res = await fetch(new URL('/metrics', baseUrl), { signal: AbortSignal.timeout(2_000) });
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
    };
  } catch {
    return undefined;
  }
}
