import { createContext, useContext, useState, type ReactNode } from 'react';

/** Which clock the console shows times in; remembered in this browser. */
export type ZoneChoice = 'utc' | 'local';
const KEY = 'runbookd.timeZone';

function stored(): ZoneChoice {
  try {
    return localStorage.getItem(KEY) === 'local' ? 'local' : 'utc';
  } catch {
    return 'utc';
  }
}

const ZoneContext = createContext<{ zone: ZoneChoice; setZone: (z: ZoneChoice) => void }>({ zone: 'utc', setZone: () => undefined });

export function ZoneProvider({ children }: { children: ReactNode }) {
  const [zone, set] = useState<ZoneChoice>(stored);
  const setZone = (z: ZoneChoice) => {
    set(z);
    try {
      localStorage.setItem(KEY, z);
    } catch {
      /* private mode: the choice lasts this page */
    }
  };
  return <ZoneContext.Provider value={{ zone, setZone }}>{children}</ZoneContext.Provider>;
}

export function useZone() {
  return useContext(ZoneContext);
}

const pad = (n: number) => String(n).padStart(2, '0');

/** `2026-12-07 13:04:05 UTC` or, in local time, `2026-12-07 14:04:05 GMT+1`: always with its zone. */
export function formatTime(at: string | Date, zone: ZoneChoice): string {
  const d = typeof at === 'string' ? new Date(at) : at;
  if (Number.isNaN(d.getTime())) return String(at);
  if (zone === 'utc') {
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
  }
  const name = new Intl.DateTimeFormat('en-GB', { timeZoneName: 'short' }).formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? localZoneName();
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())} ${name}`;
}

export function localZoneName(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || 'local';
}

/** A time as the chosen clock shows it; the exact instant (UTC) is in the title. */
export function Time({ at }: { at: string | null | undefined }) {
  const { zone } = useZone();
  if (!at) return <span className="muted">—</span>;
  return (
    <time dateTime={at} title={at}>
      {formatTime(at, zone)}
    </time>
  );
}

/** The header's switch between UTC and local time. */
export function ZoneSwitch() {
  const { zone, setZone } = useZone();
  return (
    <label className="zone-switch">
      <span>Times in</span>
      <select value={zone} onChange={(e) => setZone(e.target.value === 'local' ? 'local' : 'utc')} aria-label="Show times in">
        <option value="utc">UTC</option>
        <option value="local">local ({localZoneName()})</option>
      </select>
    </label>
  );
}

/** A `datetime-local` value read in the chosen clock, as an ISO instant (empty when not set). */
export function fromLocalInput(value: string, zone: ZoneChoice): string {
  if (!value) return '';
  const d = zone === 'utc' ? new Date(`${value}Z`) : new Date(value);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString();
}

/** An ISO instant as a `datetime-local` value in the chosen clock. */
export function toLocalInput(iso: string, zone: ZoneChoice): string {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  return zone === 'utc'
    ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
    : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}
