import { type FormEvent, useState } from 'react';
import { ApiError } from '../lib/api.ts';
import { useAuth } from '../lib/auth.tsx';

/** Sign in with an API key. The key goes to sessionStorage only after the server accepted it. */
export function SignIn() {
  const { signIn } = useAuth();
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setError(null);
    setBusy(true);
    try {
      await signIn(key.trim());
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? 'The server does not know this key, or it was revoked.'
          : err instanceof Error
            ? err.message
            : 'Sign-in failed.',
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin" id="main">
      <h1>AI-SOC console</h1>
      <form onSubmit={submit} aria-describedby={error ? 'signin-error' : undefined}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          name="api-key"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={key}
          onChange={(e) => setKey(e.target.value)}
          required
        />
        <button type="submit" disabled={busy || !key.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error && (
          <p id="signin-error" role="alert" className="error">
            {error}
          </p>
        )}
      </form>
      <p className="hint">The key is kept for this tab only and forgotten when you sign out.</p>
    </main>
  );
}
