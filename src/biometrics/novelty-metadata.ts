import onnxProto from 'onnx-proto';
import { NOVELTY_METADATA_KEY, parseNoveltyStats, type NoveltyStats } from './novelty.ts';

/**
 * The novelty stats stored in a model's ONNX metadata; undefined for models trained before the
 * gate existed (gate off until the owner re-enrols) or bytes that do not parse.
 */
export function noveltyOf(bytes: Uint8Array, d: number): NoveltyStats | undefined {
  try {
    const model = onnxProto.onnx.ModelProto.decode(bytes);
    const entry = (model.metadataProps ?? []).find((p) => p.key === NOVELTY_METADATA_KEY);
    return parseNoveltyStats(entry?.value ?? undefined, d);
  } catch {
    return undefined;
  }
}

const cache = new Map<string, NoveltyStats | null>();
const MAX_CACHED = 65_536;

/** noveltyOf, decoded once per model key in this thread (model keys name immutable bytes). */
export function noveltyForModel(key: string, bytes: SharedArrayBuffer, d: number): NoveltyStats | undefined {
  let stats = cache.get(key);
  if (stats === undefined) {
    stats = noveltyOf(new Uint8Array(bytes).slice(), d) ?? null;
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value as string);
    cache.set(key, stats);
  }
  return stats ?? undefined;
}
