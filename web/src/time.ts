// Wall-clock time in a named zone, with the browser's own Intl data: what a
// coordinator reads and types is always the board's zone, not the browser's.

// Making a formatter costs far more than using one: one per zone, kept.
const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let found = formatters.get(timeZone);
  if (!found) {
    found = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    });
    formatters.set(timeZone, found);
  }
  return found;
}

/** The wall-clock fields of instant `at` in `timeZone`. */
export function wallClock(at: number, timeZone: string): Record<string, string> {
  return Object.fromEntries(
    formatter(timeZone)
      .formatToParts(at)
      .map((p) => [p.type, p.value]),
  );
}

/** The UTC offset (ms) of `timeZone` at instant `at`. */
function offset(at: number, timeZone: string): number {
  const p = wallClock(at, timeZone);
  const local = Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second);
  return local - Math.floor(at / 1000) * 1000;
}

/** The instant a wall-clock time (ms as if UTC) happens in `timeZone`. */
function instantOfWall(wall: number, timeZone: string): number {
  const guess = wall - offset(wall, timeZone);
  return wall - offset(guess, timeZone);
}

/** `at` as a `datetime-local` input's value in `timeZone`. */
export function localInput(at: number, timeZone: string): string {
  const p = wallClock(at, timeZone);
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}`;
}

/** A `datetime-local` value (`YYYY-MM-DDTHH:MM`) in `timeZone`, as an RFC 3339 instant. */
export function instantOf(local: string, timeZone: string): string {
  const [date, time] = local.split("T");
  const [y, m, d] = date.split("-").map(Number);
  const [h, min] = time.split(":").map(Number);
  return new Date(instantOfWall(Date.UTC(y, m - 1, d, h, min), timeZone)).toISOString();
}

/** The instant local midnight of `date` (YYYY-MM-DD) begins in `timeZone`. */
export function localMidnight(date: string, timeZone: string): number {
  const [y, m, d] = date.split("-").map(Number);
  return instantOfWall(Date.UTC(y, m - 1, d), timeZone);
}

/** The day's window: local midnight to the next local midnight (23 or 25 hours across a change). */
export function dayWindow(date: string, timeZone: string): { from: number; to: number } {
  const [y, m, d] = date.split("-").map(Number);
  const next = new Date(Date.UTC(y, m - 1, d + 1)).toISOString().slice(0, 10);
  return { from: localMidnight(date, timeZone), to: localMidnight(next, timeZone) };
}

/** `HH:MM` of `at` in `timeZone`. */
export function clock(at: number, timeZone: string): string {
  const p = wallClock(at, timeZone);
  return `${p.hour}:${p.minute}`;
}
