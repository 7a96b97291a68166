/**
 * A schedule's pattern in words ("03:00 UTC on the 1st of each month"), for the common shapes;
 * anything else is given back as the pattern itself, which is never wrong.
 */
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday', 'Sunday'];
const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

export function ordinal(n: number): string {
  const s = n % 100 >= 11 && n % 100 <= 13 ? 'th' : (({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th');
  return `${n}${s}`;
}

const num = (f: string) => (/^\d+$/.test(f) ? Number(f) : null);
const list = (items: string[]) => (items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`);

function daysOfWeek(f: string): string | null {
  if (/^\d-\d$/.test(f)) {
    const [a, b] = f.split('-').map(Number);
    return `${DAYS[a]} to ${DAYS[b]}`;
  }
  if (/^\d(,\d)*$/.test(f)) return `every ${list(f.split(',').map((d) => DAYS[Number(d)]))}`;
  return null;
}

export function cronInWords(pattern: string, timezone: string): string {
  const fields = pattern.trim().split(/\s+/);
  if (fields.length !== 5 && fields.length !== 6) return `cron "${pattern}" (${timezone})`;
  const [sec, min, hour, dom, mon, dow] = fields.length === 6 ? fields : ['0', ...fields];
  const zone = timezone === 'UTC' || timezone === 'Etc/UTC' ? 'UTC' : timezone;
  if ([sec, min, hour, dom, mon, dow].every((f) => f === '*')) return 'every second';
  const everyN = (f: string) => (/^\*\/\d+$/.test(f) ? Number(f.slice(2)) : null);
  if (sec !== '0' && num(sec) === null) {
    const n = everyN(sec);
    if (n && [min, hour, dom, mon, dow].every((f) => f === '*')) return `every ${n} seconds`;
    return `cron "${pattern}" (${zone})`;
  }
  if ([hour, dom, mon, dow].every((f) => f === '*')) {
    if (min === '*') return 'every minute';
    const n = everyN(min);
    if (n) return `every ${n} minutes`;
    const m = num(min);
    if (m !== null) return `every hour at minute ${String(m).padStart(2, '0')}`;
  }
  const h = num(hour);
  const m = num(min);
  if (h === null || m === null) {
    const n = everyN(hour);
    if (n && m !== null && [dom, mon, dow].every((f) => f === '*')) return `every ${n} hours at minute ${String(m).padStart(2, '0')} (${zone})`;
    return `cron "${pattern}" (${zone})`;
  }
  const at = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}${num(sec) ? `:${String(num(sec)).padStart(2, '0')}` : ''} ${zone}`;
  const d = num(dom);
  const mo = num(mon);
  if (dom === '*' && mon === '*' && dow === '*') return `${at} every day`;
  if (dom === '*' && mon === '*') {
    const days = daysOfWeek(dow);
    return days ? `${at} ${days}` : `cron "${pattern}" (${zone})`;
  }
  if (d !== null && dow === '*') {
    if (mon === '*') return `${at} on the ${ordinal(d)} of each month`;
    if (mo !== null && mo >= 1 && mo <= 12) return `${at} on ${MONTHS[mo - 1]} ${ordinal(d)} each year`;
  }
  return `cron "${pattern}" (${zone})`;
}
