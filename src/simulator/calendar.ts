/**
 * The subset of PVE's calendar events (systemd-like, `man 7 systemd.time`) the simulator's jobs
 * use: `[<weekdays>] [<hours>:]<minutes>` with lists (`,`), ranges (`..`) and repetitions (`/`),
 * and the words `minutely`, `hourly`, `daily`, `weekly`. Times are the node's local time, which
 * the simulator takes as UTC. PVE parses them in Rust (proxmox-time, Proxmox::RS::CalendarEvent).
 */

export interface CalendarEvent {
  /** Weekdays, 0 = Sunday. */
  days: Set<number>;
  hours: number[];
  minutes: number[];
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const WORDS: Record<string, string> = {
  minutely: '*:*',
  hourly: '*:0',
  daily: '0:0',
  weekly: 'mon 0:0',
};

/** The values a field lists (`*`, `5`, `1..4`, `*\/15`, `0/20`, and lists of those). */
function values(text: string, max: number): number[] | undefined {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|\d+)(?:\.\.(\d+))?(?:\/(\d+))?$/.exec(part);
    if (!m) return undefined;
    const from = m[1] === '*' ? 0 : Number(m[1]);
    const to = m[2] !== undefined ? Number(m[2]) : m[1] === '*' || m[3] ? max : from;
    const step = m[3] !== undefined ? Number(m[3]) : 1;
    if (from > max || to > max || step < 1) return undefined;
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return [...out].sort((a, b) => a - b);
}

function weekdays(text: string): Set<number> | undefined {
  const out = new Set<number>();
  for (const part of text.split(',')) {
    const [a = '', b] = part.split('..');
    const from = DAYS.indexOf(a);
    const to = b === undefined ? from : DAYS.indexOf(b);
    if (from < 0 || to < 0) return undefined;
    for (let d = from; ; d = (d + 1) % 7) {
      out.add(d);
      if (d === to) break;
    }
  }
  return out;
}

export function parseCalendar(text: string): CalendarEvent | undefined {
  const words = (WORDS[text.trim()] ?? text.trim()).split(/\s+/);
  let days = new Set([0, 1, 2, 3, 4, 5, 6]);
  if (words.length === 2) {
    const d = weekdays(words[0] as string);
    if (!d) return undefined;
    days = d;
  } else if (words.length !== 1) return undefined;
  const time = (words.at(-1) as string).split(':');
  if (time.length > 3) return undefined;
  const [hourText, minuteText] = time.length === 1 ? ['*', time[0]] : [time[0], time[1]];
  const hours = values(hourText ?? '', 23);
  const minutes = values(minuteText ?? '', 59);
  return hours?.length && minutes?.length ? { days, hours, minutes } : undefined;
}

const DAY = 86_400;

/** The event times (epoch seconds) of one day, ascending; none on a weekday it skips. */
function dayEvents(ev: CalendarEvent, dayStart: number): number[] {
  if (!ev.days.has(new Date(dayStart * 1000).getUTCDay())) return [];
  return ev.hours.flatMap((h) => ev.minutes.map((m) => dayStart + h * 3600 + m * 60));
}

/** The first event after `after` (epoch seconds), as compute_next_event. */
export function nextEvent(ev: CalendarEvent, after: number): number {
  const day0 = Math.floor(after / DAY) * DAY;
  for (let d = 0; d <= 7; d++) {
    const next = dayEvents(ev, day0 + d * DAY).find((t) => t > after);
    if (next !== undefined) return next;
  }
  throw new Error('a calendar event occurs every week');
}

/** The last event at or before `at` (epoch seconds). */
export function lastEvent(ev: CalendarEvent, at: number): number {
  const day0 = Math.floor(at / DAY) * DAY;
  for (let d = 0; d <= 7; d++) {
    const last = dayEvents(ev, day0 - d * DAY)
      .filter((t) => t <= at)
      .at(-1);
    if (last !== undefined) return last;
  }
  throw new Error('a calendar event occurs every week');
}
