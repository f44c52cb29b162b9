import { VigilError } from '../../../protocol/errors.ts';

export function checkMinRows(rows: number, minRows: number, unit: 'samples' | 'rows'): void {
  if (rows === 0) {
    throw new VigilError('SAMPLES_EMPTY', { what: unit }, { details: [{ field: 'body', message: `no ${unit}` }] });
  }
  if (rows < minRows) {
    throw new VigilError(
      'SAMPLES_TOO_FEW',
      { required: minRows, unit, got: rows },
      { details: [{ field: 'body', message: `${rows} ${unit}; at least ${minRows} are needed for one window` }] },
    );
  }
}
