import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { api, keyStore, onUnauthorised } from './api.ts';

export type Scope = 'ingest' | 'read' | 'analyst' | 'responder' | 'admin';

export interface Identity {
  name: string;
  scopes: Scope[];
}

/** Mirrors the server's rule (`grants` in src/server/auth.ts): admin grants everything, else the scope itself. */
export function grants(scopes: readonly Scope[], needed: Scope): boolean {
  return scopes.includes('admin') || scopes.includes(needed);
}

interface AuthState {
  identity: Identity | null;
  /** True until the stored key (if any) has been checked. */
  checking: boolean;
  signIn(key: string): Promise<void>;
  signOut(): void;
  can(scope: Scope): boolean;
}

const AuthContext = createContext<AuthState | null>(null);

export function AuthProvider({ children, onSignOut }: { children: ReactNode; onSignOut?: () => void }) {
  const [identity, setIdentity] = useState<Identity | null>(null);
  const [checking, setChecking] = useState(() => keyStore.get() !== null);

  const signOut = useCallback(() => {
    keyStore.clear();
    setIdentity(null);
    onSignOut?.();
  }, [onSignOut]);

  useEffect(() => {
    const stored = keyStore.get();
    if (!stored) return;
    let live = true;
    api<Identity>('/whoami')
      .then((id) => live && setIdentity(id))
      .catch(() => live && keyStore.clear())
      .finally(() => live && setChecking(false));
    return () => {
      live = false;
    };
  }, []);

  useEffect(() => onUnauthorised(signOut), [signOut]);

  const signIn = useCallback(async (key: string) => {
    const id = await api<Identity>('/whoami', { key });
    keyStore.set(key);
    setIdentity(id);
  }, []);

  const value = useMemo<AuthState>(
    () => ({
      identity,
      checking,
      signIn,
      signOut,
      can: (scope) => identity !== null && grants(identity.scopes, scope),
    }),
    [identity, checking, signIn, signOut],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): AuthState {
  const a = useContext(AuthContext);
  if (!a) throw new Error('useAuth outside AuthProvider');
  return a;
}
