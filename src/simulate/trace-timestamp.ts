/** Arrival times of trace rows: plain seconds, or a date and time (UTC unless it names a zone offset). */

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2}(?:\.\d+)?)(Z|[+-]\d{2}(?::?\d{2})?)?$/;
const SECONDS = /^\d+(?:\.\d+)?$/;

/** Minutes east of UTC of `+05:30`, `-0800`, `+00` or `Z`. */
function offsetMinutes(zone: string): number {
  if (zone === 'Z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
  return zone[0] === '-' ? -minutes : minutes;
}

/**
 * Seconds since the epoch of `2023-11-16 18:15:46.6805900` (UTC) or `2024-05-10 00:00:00.0+00:00`,
 * or plain seconds; NaN if neither.
 */
export function parseTimestamp(text: string): number {
  if (SECONDS.test(text)) return Number(text);
  const m = DATE_TIME.exec(text);
  if (m === null) return NaN;
  const [year, month, day, hour, minute] = m.slice(1, 6).map(Number);
  const second = Number(m[6]);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second >= 61) {
    return NaN;
  }
  const zone = m[7] === undefined ? 0 : offsetMinutes(m[7]);
  return Date.UTC(year, month - 1, day, hour, minute) / 1000 + second - zone * 60;
}
