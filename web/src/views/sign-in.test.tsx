import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { keyStore } from '../lib/api.ts';
import { AuthProvider, useAuth } from '../lib/auth.tsx';
import { SignIn } from './sign-in.tsx';

function Who() {
  const { identity, signOut } = useAuth();
  return identity ? (
    <button type="button" onClick={signOut}>
      out {identity.name}
    </button>
  ) : (
    <SignIn />
  );
}

afterEach(() => {
  cleanup();
  vi.unstubAllGlobals();
  keyStore.clear();
});

describe('sign in', () => {
  it('keeps an accepted key in sessionStorage and forgets it on sign-out', async () => {
    vi.stubGlobal('fetch', async (_url: string, init: RequestInit) => {
      const auth = (init.headers as Record<string, string>).authorization;
      return auth === 'Bearer good'
        ? new Response(JSON.stringify({ name: 'alice', scopes: ['read'] }), { status: 200 })
        : new Response(JSON.stringify({ code: 'AISOC_ERR_UNAUTHORIZED', message: 'no' }), { status: 401 });
    });
    render(
      <AuthProvider>
        <Who />
      </AuthProvider>,
    );
    fireEvent.change(screen.getByLabelText('API key'), { target: { value: 'bad' } });
    await act(async () =>
      fireEvent.submit(screen.getByLabelText('API key').closest('form') as HTMLFormElement),
    );
    expect(await screen.findByRole('alert')).toHaveProperty(
      'textContent',
      expect.stringContaining('does not know'),
    );
    expect(keyStore.get()).toBeNull();

    fireEvent.change(screen.getByLabelText('API key'), { target: { value: 'good' } });
    await act(async () =>
      fireEvent.submit(screen.getByLabelText('API key').closest('form') as HTMLFormElement),
    );
    const out = await screen.findByRole('button', { name: /out alice/ });
    expect(keyStore.get()).toBe('good');
    expect(window.location.href).not.toContain('good');
    fireEvent.click(out);
    expect(keyStore.get()).toBeNull();
    expect(screen.getByLabelText('API key')).toBeTruthy();
  });
});
