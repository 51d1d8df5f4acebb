// IANA time zones: the list to pick from, and wall-clock conversions for a
// zone other than the browser's (a schedule's), with Intl only.

const FALLBACK = ['UTC', 'Europe/London', 'Europe/Berlin', 'America/New_York', 'America/Los_Angeles', 'Asia/Tokyo', 'Australia/Sydney'];

let cached: string[] | null = null;

/** Every IANA zone this browser knows, UTC first. */
export function timeZones(): string[] {
  if (cached) return cached;
  const supported = (Intl as { supportedValuesOf?: (key: string) => string[] }).supportedValuesOf;
  const names = typeof supported === 'function' ? supported('timeZone') : FALLBACK;
  cached = ['UTC', ...names.filter((n) => n !== 'UTC')];
  return cached;
}

export function browserZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
}

/** Whether Intl accepts the zone (aliases such as US/Eastern included). */
export function isTimeZone(name: string): boolean {
  if (!name.trim()) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: name });
    return true;
  } catch {
    return false;
  }
}

const partsFormat = new Map<string, Intl.DateTimeFormat>();

function wallParts(ms: number, zone: string): Record<string, number> {
  let format = partsFormat.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    });
    partsFormat.set(zone, format);
  }
  const out: Record<string, number> = {};
  for (const part of format.formatToParts(new Date(ms))) if (part.type !== 'literal') out[part.type] = Number(part.value);
  return out;
}

/** The zone's offset from UTC at instant `ms`, in ms (Berlin in summer: +7,200,000). */
export function zoneOffset(ms: number, zone: string): number {
  const p = wallParts(ms, zone);
  const wall = Date.UTC(p['year'] ?? 1970, (p['month'] ?? 1) - 1, p['day'] ?? 1, p['hour'] ?? 0, p['minute'] ?? 0, p['second'] ?? 0);
  return wall - Math.floor(ms / 1000) * 1000;
}

const WALL_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/;

/**
 * The instant (ISO, UTC) of a wall-clock time (`2026-03-29T02:30`, as a
 * datetime-local input gives it) in `zone`; null if it cannot be read. A time
 * that occurs twice (clocks going back) is its first occurrence, as the
 * server reads wall clocks; one in a spring-forward gap lands after the jump.
 */
export function zonedToUtc(wall: string, zone: string): string | null {
  const m = WALL_RE.exec(wall);
  if (!m || !isTimeZone(zone)) return null;
  const [, y, mo, d, h, mi, s] = m;
  const asUtc = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s ?? 0));
  const day = 86_400_000;
  const candidates = [...new Set([-day, 0, day].map((shift) => asUtc - zoneOffset(asUtc + shift, zone)))].sort((a, b) => a - b);
  const target = wall.length === 16 ? `${wall}:00` : wall;
  const exact = candidates.filter((c) => utcToZoned(new Date(c).toISOString(), zone) === target);
  const ms = exact[0] ?? (candidates[candidates.length - 1] as number);
  return new Date(ms).toISOString().replace('.000Z', 'Z');
}

/** An instant as a wall-clock time in `zone`, for a datetime-local input. */
export function utcToZoned(iso: string, zone: string): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms) || !isTimeZone(zone)) return '';
  const p = wallParts(ms, zone);
  const pad = (n: number | undefined) => String(n ?? 0).padStart(2, '0');
  return `${p['year']}-${pad(p['month'])}-${pad(p['day'])}T${pad(p['hour'])}:${pad(p['minute'])}:${pad(p['second'])}`;
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** "Mon, 23 Nov 2026, 09:00:00" on the wall clock of `zone`. */
export function formatInZone(iso: string | null | undefined, zone: string): string {
  if (!iso) return '—';
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return iso;
  const key = isTimeZone(zone) ? zone : 'UTC';
  let format = zoneFormats.get(key);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone: key,
      weekday: 'short',
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
      hourCycle: 'h23',
    });
    zoneFormats.set(key, format);
  }
  return format.format(new Date(ms));
}

/** The UTC offset written in an RFC 3339 time ("+02:00", "Z" as "+00:00"). */
export function offsetOf(rfc3339: string): string {
  const m = /([+-]\d{2}:\d{2}|Z)$/.exec(rfc3339);
  return !m || m[1] === 'Z' ? '+00:00' : (m[1] as string);
}
