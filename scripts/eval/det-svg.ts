/** A DET plot (FRR against FAR on normal-deviate axes) as a standalone SVG string. */

export interface DetSeries {
  label: string;
  points: { far: number; frr: number }[];
  eer: number;
}

/** Φ(x) via the Abramowitz–Stegun 7.1.26 erf approximation (|error| < 1.5e-7: plenty for a plot). */
function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * z);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-z * z);
  return x >= 0 ? 0.5 * (1 + erf) : 0.5 * (1 - erf);
}

/** Φ⁻¹(p) by bisection on Φ. */
export function probit(p: number): number {
  let lo = -8;
  let hi = 8;
  for (let i = 0; i < 80; i++) {
    const mid = (lo + hi) / 2;
    if (normalCdf(mid) < p) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];
const TICKS = [0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4];

export function detSvg(series: DetSeries[], title: string): string {
  const size = 520;
  const margin = 60;
  const lo = probit(TICKS[0] as number);
  const hi = probit(0.5);
  const span = size - 2 * margin;
  const pos = (p: number) => (Math.min(Math.max(probit(Math.min(Math.max(p, 1e-4), 0.5)), lo), hi) - lo) / (hi - lo);
  const x = (far: number) => margin + pos(far) * span;
  const y = (frr: number) => size - margin - pos(frr) * span;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size + 200}" height="${size}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${margin}" y="24" font-size="14">${escape(title)}</text>`,
  ];
  for (const t of TICKS) {
    const label = `${+(t * 100).toFixed(1)}%`;
    parts.push(`<line x1="${x(t)}" y1="${margin}" x2="${x(t)}" y2="${size - margin}" stroke="#ddd"/>`);
    parts.push(`<line x1="${margin}" y1="${y(t)}" x2="${size - margin}" y2="${y(t)}" stroke="#ddd"/>`);
    parts.push(`<text x="${x(t)}" y="${size - margin + 16}" text-anchor="middle">${label}</text>`);
    parts.push(`<text x="${margin - 6}" y="${y(t) + 4}" text-anchor="end">${label}</text>`);
  }
  parts.push(`<line x1="${x(0.001)}" y1="${y(0.001)}" x2="${x(0.5)}" y2="${y(0.5)}" stroke="#bbb" stroke-dasharray="4 4"/>`);
  parts.push(`<rect x="${margin}" y="${margin}" width="${span}" height="${span}" fill="none" stroke="#333"/>`);
  parts.push(`<text x="${size / 2}" y="${size - 18}" text-anchor="middle">false accept rate (impostor windows accepted)</text>`);
  parts.push(
    `<text transform="translate(16 ${size / 2}) rotate(-90)" text-anchor="middle">false reject rate (genuine windows rejected)</text>`,
  );
  series.forEach((s, i) => {
    const colour = COLOURS[i % COLOURS.length] as string;
    const pts = s.points
      .filter((p) => p.far > 0 && p.frr > 0 && p.far <= 0.5 && p.frr <= 0.5)
      .map((p) => `${x(p.far).toFixed(1)},${y(p.frr).toFixed(1)}`)
      .join(' ');
    parts.push(`<polyline points="${pts}" fill="none" stroke="${colour}" stroke-width="1.8"/>`);
    parts.push(`<circle cx="${x(s.eer)}" cy="${y(s.eer)}" r="3.5" fill="${colour}"/>`);
    parts.push(`<rect x="${size - margin + 20}" y="${margin + i * 20 - 9}" width="12" height="3" fill="${colour}"/>`);
    parts.push(
      `<text x="${size - margin + 38}" y="${margin + i * 20 - 4}">${escape(s.label)} (EER ${(s.eer * 100).toFixed(1)}%)</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('\n');
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
