/** Tiny hand-written SVG plots for docs/BENCHMARKS.md: CDF lines, a time series, a bar chart. */

const W = 640;
const H = 320;
const M = { l: 60, r: 20, t: 30, b: 45 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');
const fmt = (v: number): string => (Math.abs(v) >= 100 ? v.toFixed(0) : Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(2));

function frame(title: string, xlabel: string, ylabel: string, xmax: number, ymax: number, body: string, xmin = 0): string {
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  let ticks = '';
  for (let i = 0; i <= 5; i++) {
    const x = M.l + (pw * i) / 5;
    const y = M.t + ph - (ph * i) / 5;
    ticks += `<line x1="${x}" y1="${M.t + ph}" x2="${x}" y2="${M.t + ph + 4}" stroke="#333"/><text x="${x}" y="${M.t + ph + 16}" text-anchor="middle">${fmt(xmin + ((xmax - xmin) * i) / 5)}</text>`;
    ticks += `<line x1="${M.l}" y1="${y}" x2="${M.l + pw}" y2="${y}" stroke="#ddd"/><text x="${M.l - 6}" y="${y + 4}" text-anchor="end">${fmt((ymax * i) / 5)}</text>`;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11">
<rect width="${W}" height="${H}" fill="white"/>
<text x="${W / 2}" y="18" text-anchor="middle" font-size="13">${esc(title)}</text>
${ticks}
<line x1="${M.l}" y1="${M.t + ph}" x2="${M.l + pw}" y2="${M.t + ph}" stroke="#333"/><line x1="${M.l}" y1="${M.t}" x2="${M.l}" y2="${M.t + ph}" stroke="#333"/>
<text x="${M.l + pw / 2}" y="${H - 8}" text-anchor="middle">${esc(xlabel)}</text>
<text x="14" y="${M.t + ph / 2}" text-anchor="middle" transform="rotate(-90 14 ${M.t + ph / 2})">${esc(ylabel)}</text>
${body}
</svg>
`;
}

function legend(names: string[]): string {
  return names.map((n, i) => `<rect x="${W - M.r - 170}" y="${M.t + 6 + i * 15}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/><text x="${W - M.r - 155}" y="${M.t + 15 + i * 15}">${esc(n)}</text>`).join('\n');
}

/** Empirical CDFs of latency samples (ms), x clipped at the largest p99.9. */
export function cdfSvg(title: string, series: Record<string, number[]>): string {
  const names = Object.keys(series).filter((k) => series[k]!.length > 0);
  const sorted = names.map((n) => [...series[n]!].sort((a, b) => a - b));
  const xmax = Math.max(0.001, ...sorted.map((s) => s[Math.min(s.length - 1, Math.floor(s.length * 0.999))]!)) * 1.05;
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const lines = sorted.map((s, i) => {
    const step = Math.max(1, Math.floor(s.length / 400));
    const pts: string[] = [];
    for (let k = 0; k < s.length; k += step) pts.push(`${(M.l + (Math.min(s[k]!, xmax) / xmax) * pw).toFixed(1)},${(M.t + ph - ((k + 1) / s.length) * ph).toFixed(1)}`);
    pts.push(`${(M.l + (Math.min(s[s.length - 1]!, xmax) / xmax) * pw).toFixed(1)},${M.t}`);
    return `<polyline fill="none" stroke="${COLORS[i % COLORS.length]}" stroke-width="1.5" points="${pts.join(' ')}"/>`;
  });
  return frame(title, 'latency, ms', 'fraction of pushes ≤ x', xmax, 1, lines.join('\n') + legend(names));
}

/** One time series (x seconds, y value) with an optional horizontal target line. */
export function seriesSvg(title: string, xlabel: string, ylabel: string, pts: [number, number][], target?: number): string {
  const xmax = Math.max(1, ...pts.map((p) => p[0]));
  const ymax = Math.max(1.05, ...pts.map((p) => p[1])) ;
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const X = (x: number): number => M.l + (x / xmax) * pw;
  const Y = (y: number): number => M.t + ph - (y / ymax) * ph;
  let body = `<polyline fill="none" stroke="${COLORS[0]}" stroke-width="1.5" points="${pts.map((p) => `${X(p[0]).toFixed(1)},${Y(p[1]).toFixed(1)}`).join(' ')}"/>`;
  if (target !== undefined) body += `<line x1="${M.l}" y1="${Y(target)}" x2="${M.l + pw}" y2="${Y(target)}" stroke="${COLORS[1]}" stroke-dasharray="4 3"/><text x="${M.l + pw - 4}" y="${Y(target) - 4}" text-anchor="end" fill="${COLORS[1]}">target ${target}</text>`;
  return frame(title, xlabel, ylabel, xmax, ymax, body);
}

/** Horizontal-label bar chart. */
export function barSvg(title: string, ylabel: string, bars: { label: string; value: number }[]): string {
  const ymax = Math.max(1, ...bars.map((b) => b.value)) * 1.1;
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const bw = pw / Math.max(1, bars.length);
  const body = bars
    .map((b, i) => {
      const h = (b.value / ymax) * ph;
      const x = M.l + i * bw + bw * 0.15;
      return `<rect x="${x.toFixed(1)}" y="${(M.t + ph - h).toFixed(1)}" width="${(bw * 0.7).toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[i % COLORS.length]}"/><text x="${(x + bw * 0.35).toFixed(1)}" y="${(M.t + ph - h - 4).toFixed(1)}" text-anchor="middle">${fmt(b.value)}</text><text x="${(x + bw * 0.35).toFixed(1)}" y="${M.t + ph + 30}" text-anchor="middle">${esc(b.label)}</text>`;
    })
    .join('\n');
  // The x ticks of frame() are meaningless for bars: draw without them.
  return frame(title, '', ylabel, 0, ymax, body).replace(/<line x1="[\d.]+" y1="[\d.]+" x2="[\d.]+" y2="[\d.]+" stroke="#333"\/><text x="[\d.]+" y="[\d.]+" text-anchor="middle">[^<]*<\/text>/g, '');
}
