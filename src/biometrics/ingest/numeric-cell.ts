/** Plain decimal or scientific notation; no hex, no "Infinity", no empty string (Number('') is 0). */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

export type CellProblem = 'empty' | 'nan' | 'infinite' | 'not-a-number' | 'float32-overflow';

export const CELL_PROBLEM_TEXT: Record<CellProblem, string> = {
  empty: 'is empty',
  nan: 'is NaN',
  infinite: 'is infinite',
  'not-a-number': 'is not a number',
  'float32-overflow': 'is outside the float32 range',
};

/** Parses one CSV cell strictly. Returns the number, or the problem with it. */
export function parseCell(raw: string): number | CellProblem {
  const text = raw.trim();
  if (text === '') return 'empty';
  if (!DECIMAL.test(text)) {
    if (/^[+-]?nan$/i.test(text)) return 'nan';
    if (/^[+-]?(inf|infinity)$/i.test(text)) return 'infinite';
    return 'not-a-number';
  }
  return checkValue(Number(text)) ?? Number(text);
}

/** The problem with a number that has to become a finite float32, or undefined. */
export function checkValue(value: number): CellProblem | undefined {
  if (Number.isNaN(value)) return 'nan';
  if (!Number.isFinite(value)) return 'infinite';
  if (!Number.isFinite(Math.fround(value))) return 'float32-overflow';
  return undefined;
}
