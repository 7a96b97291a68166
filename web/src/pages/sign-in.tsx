import { useState } from 'react';
import { api, type Session } from '../api';
import { ErrorNotice } from '../components/common';

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" className="signin">
      <h1>runbookd</h1>
      <form
        className="card"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setError(undefined);
          try {
            onSignedIn(await api<Session>('POST', '/v1/session', { body: { apiKey: key.trim() } }));
          } catch (err) {
            setError(err);
          } finally {
            setBusy(false);
          }
        }}
      >
        <h2>Sign in</h2>
        <div className="field">
          <label htmlFor="api-key">API key</label>
          <input id="api-key" name="apiKey" type="password" autoComplete="current-password" required value={key} onChange={(e) => setKey(e.target.value)} aria-describedby="api-key-help" />
          <div className="help" id="api-key-help">
            A key from RUNBOOKD_API_KEYS (or the development key in <code>.runbookd/admin-api-key</code>). It is exchanged for a session cookie and not kept by the page.
          </div>
        </div>
        <ErrorNotice error={error} />
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
