/**
 * The memory study's plot as a standalone SVG: for each scenario, KV memory held and requests
 * running over simulated time, one line per policy.
 */
import { describeValue } from '../describe-value.js';
import { ArgumentError } from '../errors.js';
import { checkScenarioResult } from './check-options.js';
import { GIB } from './model-layouts.js';
import type { PolicyResult, ScenarioResult } from './simulate-trace.js';
import { scenarioTitle } from './report-table.js';

const WIDTH = 1000;
const PANEL_HEIGHT = 230;
const MARGIN = { left: 64, right: 250, top: 34, bottom: 40 };
const MAX_POINTS = 250;
/** A policy whose run lasts this many times the next longest gets cut off, so the rest stay readable. */
const OUTLIER_SPAN_RATIO = 3;
const COLORS = [
  '#d62728',
  '#ff7f0e',
  '#1f77b4',
  '#2ca02c',
  '#9467bd',
  '#17becf',
  '#8c564b',
  '#e377c2',
];

function escapeXml(text: string): string {
  return text.replace(/[<>&"]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A step of 1, 2 or 5 times a power of ten giving about `count` ticks up to `max`. */
function tickStep(max: number, count: number): number {
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

function formatTick(v: number): string {
  return Number(v.toPrecision(6)).toLocaleString('en-US');
}

/** Averages adjacent buckets so that at most MAX_POINTS remain; returns [time, value] pairs. */
function downsample(values: readonly number[], bucketSeconds: number, tMax: number): number[][] {
  const inRange = Math.min(values.length, Math.ceil(tMax / bucketSeconds));
  const group = Math.max(1, Math.ceil(inRange / MAX_POINTS));
  const points: number[][] = [];
  for (let i = 0; i < inRange; i += group) {
    let sum = 0;
    const end = Math.min(inRange, i + group);
    for (let j = i; j < end; j++) sum += values[j];
    points.push([((i + end) / 2) * bucketSeconds, sum / (end - i)]);
  }
  return points;
}

interface Panel {
  readonly title: string;
  readonly yLabel: string;
  readonly series: (p: PolicyResult) => readonly number[];
  readonly scale: number;
  /** A dashed horizontal line (the budget), in the panel's units. */
  readonly limit?: number;
}

function renderPanel(s: ScenarioResult, panel: Panel, top: number): string {
  const spans = s.policies.map((p) => p.makespanSeconds);
  const sorted = [...spans].sort((a, b) => b - a);
  const cut = sorted.length > 1 && sorted[0] > OUTLIER_SPAN_RATIO * sorted[1];
  const tMax = Math.max(1e-9, cut ? sorted[1] * 1.1 : sorted[0]);
  const lines = s.policies.map((p) =>
    downsample(panel.series(p), p.series.bucketSeconds, tMax).map(([t, v]) => [t, v / panel.scale]),
  );
  let yMax = panel.limit ?? 0;
  for (const pts of lines) for (const [, v] of pts) yMax = Math.max(yMax, v);
  yMax = yMax > 0 ? yMax * 1.05 : 1;
  const w = WIDTH - MARGIN.left - MARGIN.right;
  const h = PANEL_HEIGHT - MARGIN.top - MARGIN.bottom;
  const x = (t: number) => MARGIN.left + (t / tMax) * w;
  const y = (v: number) => top + MARGIN.top + h - (v / yMax) * h;
  const out: string[] = [];
  out.push(
    `<text x="${MARGIN.left}" y="${top + 20}" font-size="14" font-weight="bold">${escapeXml(panel.title)}</text>`,
  );
  const yStep = tickStep(yMax, 5);
  for (let v = 0; v <= yMax; v += yStep) {
    out.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + w}" y1="${y(v)}" y2="${y(v)}" stroke="#e5e5e5"/>`,
      `<text x="${MARGIN.left - 6}" y="${y(v) + 4}" text-anchor="end">${formatTick(v)}</text>`,
    );
  }
  const xStep = tickStep(tMax, 8);
  for (let t = 0; t <= tMax; t += xStep) {
    out.push(
      `<text x="${x(t)}" y="${top + MARGIN.top + h + 16}" text-anchor="middle">${formatTick(t)}</text>`,
    );
  }
  out.push(
    `<text x="${MARGIN.left + w / 2}" y="${top + PANEL_HEIGHT - 6}" text-anchor="middle">simulated time (s)</text>`,
    `<text transform="translate(16 ${top + MARGIN.top + h / 2}) rotate(-90)" text-anchor="middle">${escapeXml(panel.yLabel)}</text>`,
    `<rect x="${MARGIN.left}" y="${top + MARGIN.top}" width="${w}" height="${h}" fill="none" stroke="#999"/>`,
  );
  if (panel.limit !== undefined) {
    out.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + w}" y1="${y(panel.limit)}" y2="${y(panel.limit)}" stroke="#000" stroke-dasharray="6 4"/>`,
    );
  }
  s.policies.forEach((p, i) => {
    const color = COLORS[i % COLORS.length];
    const pts = lines[i].map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${pts}"/>`);
    const ly = top + MARGIN.top + 6 + i * 16;
    const clipped =
      p.makespanSeconds > tMax ? ` (to ${formatTick(Math.round(p.makespanSeconds))} s)` : '';
    out.push(
      `<line x1="${WIDTH - MARGIN.right + 10}" x2="${WIDTH - MARGIN.right + 28}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${WIDTH - MARGIN.right + 32}" y="${ly + 4}">${escapeXml(p.policy + clipped)}</text>`,
    );
  });
  if (panel.limit !== undefined) {
    const ly = top + MARGIN.top + 6 + s.policies.length * 16;
    out.push(
      `<line x1="${WIDTH - MARGIN.right + 10}" x2="${WIDTH - MARGIN.right + 28}" y1="${ly}" y2="${ly}" stroke="#000" stroke-dasharray="6 4"/>`,
      `<text x="${WIDTH - MARGIN.right + 32}" y="${ly + 4}">budget</text>`,
    );
  }
  return out.join('\n');
}

/** The whole plot: two panels (memory held, requests running) per scenario, and a note at the foot (the data's credit). */
export function renderStudyPlot(scenarios: readonly ScenarioResult[], note?: string): string {
  if (!Array.isArray(scenarios)) {
    throw new ArgumentError('scenarios', 'an array of ScenarioResults', describeValue(scenarios));
  }
  scenarios.forEach((s: unknown, i) => checkScenarioResult(`scenarios[${i}]`, s));
  if (note !== undefined && typeof note !== 'string') {
    throw new ArgumentError('note', 'a string or undefined', describeValue(note));
  }
  const panels: string[] = [];
  let top = 0;
  for (const s of scenarios) {
    const title = scenarioTitle(s);
    panels.push(
      renderPanel(
        s,
        {
          title: `${title}: KV memory held`,
          yLabel: 'GiB',
          series: (p) => p.series.memoryBytes,
          scale: GIB,
          limit: s.budgetBytes / GIB,
        },
        top,
      ),
    );
    top += PANEL_HEIGHT;
    panels.push(
      renderPanel(
        s,
        {
          title: `${title}: requests running`,
          yLabel: 'requests',
          series: (p) => p.series.running,
          scale: 1,
        },
        top,
      ),
    );
    top += PANEL_HEIGHT;
  }
  if (note !== undefined) {
    panels.push(
      `<text x="${MARGIN.left}" y="${top + 16}" font-size="10">${escapeXml(note)}</text>`,
    );
    top += 28;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${top}" viewBox="0 0 ${WIDTH} ${top}" font-family="sans-serif" font-size="11">`,
    `<rect width="${WIDTH}" height="${top}" fill="#fff"/>`,
    ...panels,
    '</svg>',
    '',
  ].join('\n');
}
