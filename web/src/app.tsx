import { useEffect, useState } from 'react';
import { api, onUnauthenticated, type Session, setCsrfToken } from './api';
import { ApprovalsPage } from './pages/approvals';
import { AuditPage } from './pages/audit';
import { RunPage } from './pages/run';
import { RunbookPage } from './pages/runbook';
import { RunbooksPage } from './pages/runbooks';
import { RunsPage } from './pages/runs';
import { SchedulesPage } from './pages/schedules';
import { SignIn } from './pages/sign-in';
import { useRoute } from './router';

export function App() {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const route = useRoute();

  useEffect(() => {
    onUnauthenticated(() => setSession(null));
    api<Session>('GET', '/v1/session').then(
      (s) => {
        setCsrfToken(s.csrfToken);
        setSession(s);
      },
      () => setSession(null),
    );
  }, []);

  useEffect(() => {
    const title = route[0] ? route[0][0].toUpperCase() + route[0].slice(1) : 'Runbooks';
    document.title = `${title} · runbookd`;
  }, [route]);

  if (session === undefined) return <p className="loading">Loading…</p>;
  if (session === null) {
    return (
      <SignIn
        onSignedIn={(s) => {
          setCsrfToken(s.csrfToken);
          setSession(s);
        }}
      />
    );
  }

  const signOut = async () => {
    await api('DELETE', '/v1/session').catch(() => undefined);
    setCsrfToken(null);
    setSession(null);
  };

  const [page, id] = route;
  let content;
  if (page === 'runbooks' && id) content = <RunbookPage id={id} session={session} />;
  else if (page === 'runs' && id) content = <RunPage id={id} session={session} />;
  else if (page === 'runs') content = <RunsPage />;
  else if (page === 'approvals') content = <ApprovalsPage />;
  else if (page === 'audit') content = <AuditPage />;
  else if (page === 'schedules') content = <SchedulesPage session={session} />;
  else content = <RunbooksPage />;

  const current = page ?? 'runbooks';
  return (
    <>
      <a className="skip" href="#main" onClick={(e) => (e.preventDefault(), document.getElementById('main')?.focus())}>
        Skip to content
      </a>
      <header className="top">
        <span className="brand">runbookd</span>
        <nav aria-label="Main">
          {[
            ['runbooks', 'Runbooks'],
            ['runs', 'Runs'],
            ['approvals', 'Approvals'],
            ['schedules', 'Schedules'],
            ['audit', 'Audit'],
          ].map(([p, label]) => (
            <a key={p} href={`#/${p}`} aria-current={current === p ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
        <div className="who">
          <span>
            {session.name} <span className="muted">({session.role})</span>
          </span>
          <button type="button" className="link" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {content}
      </main>
    </>
  );
}
