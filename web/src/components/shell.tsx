import { Link, Outlet } from '@tanstack/react-router';
import { type Scope, useAuth } from '../lib/auth.tsx';
import { useTheme } from '../lib/theme.tsx';

/** Navigation entries and the scope each needs: the console shows only what the key may use. */
export const NAV: Array<{ to: string; label: string; scope: Scope }> = [
  { to: '/', label: 'Overview', scope: 'read' },
  { to: '/alerts', label: 'Alerts', scope: 'read' },
  { to: '/incidents', label: 'Incidents', scope: 'read' },
  { to: '/cases', label: 'Cases', scope: 'read' },
  { to: '/approvals', label: 'Approvals', scope: 'read' },
  { to: '/coverage', label: 'ATT&CK', scope: 'read' },
  { to: '/events', label: 'Events', scope: 'read' },
  { to: '/rules', label: 'Rules & sources', scope: 'read' },
  { to: '/audit', label: 'Audit', scope: 'read' },
];

export function Shell() {
  const { identity, signOut, can } = useAuth();
  const { theme, toggle } = useTheme();
  return (
    <div className="app">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <span className="brand">AI-SOC</span>
        <nav aria-label="Main">
          <ul>
            {NAV.filter((n) => can(n.scope)).map((n) => (
              <li key={n.to}>
                <Link
                  to={n.to}
                  activeOptions={{ exact: n.to === '/' }}
                  activeProps={{ 'aria-current': 'page' }}
                >
                  {n.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <div className="who">
          <button
            type="button"
            className="ghost"
            onClick={toggle}
            aria-label={`Switch to ${theme === 'dark' ? 'light' : 'dark'} theme`}
          >
            {theme === 'dark' ? '☀' : '☾'}
          </button>
          <span title={identity?.scopes.join(', ')}>{identity?.name}</span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" tabIndex={-1}>
        {can('read') ? (
          <Outlet />
        ) : (
          <p role="alert">This key has no read scope: the console has nothing it may show.</p>
        )}
      </main>
    </div>
  );
}
