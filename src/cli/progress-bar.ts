/** A one-line progress bar on a stream (stderr), redrawn at most every 100 ms. */
import type { Writable } from 'node:stream';

const BAR_WIDTH = 30;
const REDRAW_MS = 100;

export class ProgressBar {
  private lastDraw = 0;
  private drawn = false;

  constructor(private readonly stream: Writable) {}

  /** Shows `fraction` (0..1) done and a label; skips the redraw if the last one was recent. */
  update(fraction: number, label: string): void {
    const now = Date.now();
    if (now - this.lastDraw < REDRAW_MS && fraction < 1) return;
    this.lastDraw = now;
    const filled = Math.round(Math.min(1, Math.max(0, fraction)) * BAR_WIDTH);
    const bar = '#'.repeat(filled) + '-'.repeat(BAR_WIDTH - filled);
    this.stream.write(`\r[${bar}] ${(fraction * 100).toFixed(0).padStart(3)}% ${label}\x1b[K`);
    this.drawn = true;
  }

  /** Clears the line, if anything was drawn. */
  done(): void {
    if (this.drawn) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }
}
