import { VigilError } from '../../../protocol/errors.ts';
import type { BiometricData } from '../samples.ts';

/**
 * Largest magnitude a sample of each modality can physically have, in the units devices report:
 * accelerometers saturate at ±16 g (≈ 157 m/s²), gyroscopes at ±2,000 °/s. Values beyond are
 * not motion but fabricated data (the cohort-poisoning attack shifted every axis by +500).
 * Modalities not listed (ppg, ecg, raw ADC counts…) have no fixed unit and are not bounded.
 */
export const PLAUSIBLE_MAGNITUDE: Readonly<Record<string, number>> = Object.freeze({
  motion: 200,
  accelerometer: 200,
  gyroscope: 2_000,
});

/** Throws SAMPLES_INVALID naming the first implausible value (row and channel) of enrolment samples. */
export function assertPlausible(data: BiometricData, modality: string): void {
  if (data.kind !== 'samples' || !Object.hasOwn(PLAUSIBLE_MAGNITUDE, modality)) return;
  const limit = PLAUSIBLE_MAGNITUDE[modality]!;
  const c = data.channels.length;
  const values = data.data;
  for (let k = 0; k < values.length; k++) {
    const v = values[k]!;
    if (v > limit || v < -limit) {
      const row = Math.floor(k / c);
      const channel = data.channels[k % c]!;
      const message = `${v} is outside ±${limit}, the physical range of ${modality} samples`;
      throw new VigilError(
        'SAMPLES_INVALID',
        { reason: `row ${row}, channel ${channel}: ${message}` },
        { details: [{ field: `/samples/${row}/${channel}`, message }] },
      );
    }
  }
}
