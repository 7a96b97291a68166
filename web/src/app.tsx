import { useEffect, useMemo, useState } from 'react';
import { ApiContext } from './api/api-context';
import { ApiClient } from './api/client';
import type { Session } from './api/types';
import { ZoneProvider, ZoneSwitch } from './clock';
import { Skeleton } from './components/common';
import { StopSwitchBar } from './components/stop-switch';
import { ApprovalsPage } from './pages/approvals';
import { AuditPage } from './pages/audit';
import { ResiliencePage } from './pages/resilience';
import { RunPage } from './pages/run';
import { RunbookPage } from './pages/runbook';
import { RunbooksPage } from './pages/runbooks';
import { RunsPage } from './pages/runs';
import { SchedulesPage } from './pages/schedules';
import { SignIn, SignInForm } from './pages/sign-in';
import { useRoute } from './router';

const NAV = [
  ['runbooks', 'Runbooks'],
  ['runs', 'Runs'],
  ['approvals', 'Approvals'],
  ['schedules', 'Schedules'],
  ['resilience', 'Resilience'],
  ['audit', 'Audit'],
] as const;

export function App() {
  const api = useMemo(() => new ApiClient(), []);
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  // The session ended while a page was open: the page stays (with what was typed) under a sign-in.
  const [expired, setExpired] = useState(false);
  const [offline, setOffline] = useState(false);
  const route = useRoute();

  const signedIn = (s: Session) => {
    api.useSession(s);
    setSession(s);
    setExpired(false);
  };

  useEffect(() => {
    api.onUnauthenticated = () => setExpired(true);
    api.onConnection = (state) => setOffline(state === 'offline');
    api.currentSession().then(signedIn, () => setSession(null));
  }, [api]);

  const [page, id] = route.path;
  useEffect(() => {
    // Pages with a subject (a run, a runbook) name the tab themselves once they know it.
    if (id) return;
    const label = NAV.find(([p]) => p === (page ?? 'runbooks'))?.[1] ?? 'Runbooks';
    document.title = `${label} · runbookd`;
  }, [page, id]);

  if (session === undefined) {
    return (
      <main id="main" className="signin">
        <Skeleton lines={4} label="Loading the console" />
      </main>
    );
  }
  if (session === null) {
    return (
      <ApiContext.Provider value={api}>
        <SignIn onSignedIn={signedIn} />
      </ApiContext.Provider>
    );
  }

  const signOut = async () => {
    await api.signOut().catch(() => undefined);
    api.useSession(null);
    setSession(null);
  };

  let content;
  // Keyed by what the page is about: another runbook or run is a fresh page, with nothing carried over.
  if (page === 'runbooks' && id) content = <RunbookPage key={`runbook/${id}/${route.query.get('rerun') ?? ''}`} id={id} session={session} />;
  else if (page === 'runs' && id) content = <RunPage key={`run/${id}`} id={id} session={session} />;
  else if (page === 'runs') content = <RunsPage />;
  else if (page === 'approvals') content = <ApprovalsPage />;
  else if (page === 'audit') content = <AuditPage />;
  else if (page === 'resilience') content = <ResiliencePage />;
  else if (page === 'schedules') content = <SchedulesPage session={session} />;
  else content = <RunbooksPage />;

  const current = page ?? 'runbooks';
  return (
    <ApiContext.Provider value={api}>
      <ZoneProvider>
        <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
          Skip to content
        </a>
        <header className="top">
          <span className="brand">runbookd</span>
          <nav aria-label="Main">
            {NAV.map(([p, label]) => (
              <a key={p} href={`#/${p}`} aria-current={current === p ? 'page' : undefined}>
                {label}
              </a>
            ))}
          </nav>
          <div className="who">
            <ZoneSwitch />
            <span>
              {session.name} <span className="muted">({session.role})</span>
            </span>
            <button type="button" className="link" onClick={signOut}>
              Sign out
            </button>
          </div>
        </header>
        <StopSwitchBar session={session} />
        {offline && (
          <div className="banner banner-offline" role="status">
            The service is not answering. What you see is the last data the page had; it updates again once the service answers.
          </div>
        )}
        <main id="main" tabIndex={-1} inert={expired || undefined}>
          {content}
        </main>
        {expired && (
          <div className="overlay">
            <div className="dialog card" role="dialog" aria-modal="true" aria-labelledby="expired-title">
              <h2 id="expired-title">Your session expired</h2>
              <p>Sign in again to carry on: the page and what you typed are kept.</p>
              <SignInForm onSignedIn={signedIn} />
            </div>
          </div>
        )}
      </ZoneProvider>
    </ApiContext.Provider>
  );
}
