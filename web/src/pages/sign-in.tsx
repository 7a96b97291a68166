import { useState } from 'react';
import { useApi } from '../api/api-context';
import type { Session } from '../api/types';
import { ErrorNotice } from '../components/common';

export function SignInForm({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  const api = useApi();
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <form
      className="signin-form"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(undefined);
        try {
          onSignedIn(await api.signIn(key.trim()));
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <div className="field">
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          name="apiKey"
          type="password"
          autoComplete="current-password"
          required
          value={key}
          onChange={(e) => setKey(e.target.value)}
          aria-describedby="api-key-help"
        />
        <div className="help" id="api-key-help">
          A key from RUNBOOKD_API_KEYS (or the development key in <code>.runbookd/admin-api-key</code>). It is exchanged for a session cookie and not kept by
          the page.
        </div>
      </div>
      <ErrorNotice error={error} />
      <button type="submit" disabled={busy}>
        {busy ? 'Signing in…' : 'Sign in'}
      </button>
    </form>
  );
}

export function SignIn({ onSignedIn }: { onSignedIn: (s: Session) => void }) {
  return (
    <main id="main" className="signin">
      <h1>runbookd</h1>
      <div className="card">
        <h2>Sign in</h2>
        <SignInForm onSignedIn={onSignedIn} />
      </div>
    </main>
  );
}
