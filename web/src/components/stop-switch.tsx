import { useCallback, useEffect, useState } from 'react';
import { useApi } from '../api/api-context';
import { ApiError } from '../api/client';
import { may, type Session, type StopSwitch } from '../api/types';
import { Time } from '../clock';

/** How often the banner asks whether someone pressed stop-all elsewhere (the API, the CLI). */
const POLL_MS = 15_000;

/**
 * The stop button's state for everyone (a red banner while stopped, naming who and why), and for
 * admins the button itself: Stop all (asks for a reason first) or Resume all.
 */
export function StopSwitchBar({ session }: { session: Session }) {
  const api = useApi();
  const [state, setState] = useState<StopSwitch | null>(null);
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const admin = may(session, 'admin');

  const load = useCallback(() => api.stopState().then(setState, () => undefined), [api]);
  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), POLL_MS);
    return () => clearInterval(t);
  }, [load]);

  const act = async (fn: () => Promise<StopSwitch>) => {
    setBusy(true);
    setError(null);
    try {
      setState(await fn());
      setAsking(false);
      setReason('');
    } catch (err) {
      setError(err instanceof ApiError ? err.message : String(err));
      void load();
    } finally {
      setBusy(false);
    }
  };

  if (!state) return null;
  if (state.stopped) {
    return (
      <div className="banner banner-stopped" role="alert">
        <span>
          Everything is stopped: by {state.stoppedBy ?? '?'} at <Time at={state.stoppedAt} />: “{state.reason}”. Running runs stop at their next safe point and
          clean up; new runs, schedule ticks and alarms are refused until an admin resumes.
        </span>
        {admin && (
          <button type="button" onClick={() => void act(() => api.resumeAll())} disabled={busy}>
            Resume all
          </button>
        )}
        {error && <span className="error"> {error}</span>}
      </div>
    );
  }
  if (!admin) return null;
  return (
    <div className="stop-bar">
      {!asking ? (
        <button type="button" className="danger" onClick={() => setAsking(true)}>
          Stop all runs…
        </button>
      ) : (
        <form
          className="stop-form"
          aria-label="Stop all runs"
          onSubmit={(e) => {
            e.preventDefault();
            if (reason.trim()) void act(() => api.stopAll(reason.trim()));
          }}
        >
          <div className="field">
            <label htmlFor="stop-all-reason">Why stop everything?</label>
            <input
              id="stop-all-reason"
              required
              maxLength={2000}
              value={reason}
              onChange={(e) => setReason(e.target.value)}
              aria-describedby="stop-all-help"
              autoFocus
            />
            <span className="help" id="stop-all-help">
              Every running run stops before its next change and runs its cleanup; new runs are refused, naming you and this reason. Audited.
            </span>
          </div>
          <div className="actions">
            <button type="submit" className="danger" disabled={busy || reason.trim() === ''}>
              Stop all runs
            </button>
            <button type="button" onClick={() => (setAsking(false), setError(null))}>
              Keep running
            </button>
          </div>
          {error && <p className="error">{error}</p>}
        </form>
      )}
    </div>
  );
}
