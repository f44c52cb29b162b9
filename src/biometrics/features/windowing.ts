/** Window length and hop, in seconds. */
export interface WindowParams {
  window: number;
  hop: number;
}

/**
 * Per-modality defaults. Motion (gait, gestures) needs 2–3 steps per window; cardiac signals
 * need several beats. Unknown modalities get the motion default; the hop is always 50 %.
 */
export const MODALITY_WINDOWS: Readonly<Record<string, WindowParams>> = Object.freeze({
  motion: { window: 2.5, hop: 1.25 },
  accelerometer: { window: 2.5, hop: 1.25 },
  gyroscope: { window: 2.5, hop: 1.25 },
  ppg: { window: 8, hop: 4 },
  ecg: { window: 4, hop: 2 },
  default: { window: 2.5, hop: 1.25 },
});

export function defaultWindow(modality: string): WindowParams {
  // Own keys only: a modality label is client input, and "constructor" must not find Object's.
  return Object.hasOwn(MODALITY_WINDOWS, modality)
    ? (MODALITY_WINDOWS[modality] as WindowParams)
    : (MODALITY_WINDOWS.default as WindowParams);
}

/** Seconds → whole samples at `rate`, never below one. */
export function secondsToSamples(seconds: number, rate: number): number {
  return Math.max(1, Math.round(seconds * rate));
}

/** How many complete windows fit in `length` samples. */
export function windowCount(length: number, windowSamples: number, hopSamples: number): number {
  return length < windowSamples ? 0 : Math.floor((length - windowSamples) / hopSamples) + 1;
}
