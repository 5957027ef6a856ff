import { QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { RouterProvider } from '@tanstack/react-router';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { ApiError } from './lib/api.ts';
import { AuthProvider, useAuth } from './lib/auth.tsx';
import { ThemeProvider } from './lib/theme.tsx';
import { makeRouter } from './router.tsx';
import { SignIn } from './views/sign-in.tsx';
import './styles.css';

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 5_000,
      // A refused key or a missing record will not get better by asking again.
      retry: (n, e) => !(e instanceof ApiError && e.status >= 400 && e.status < 500) && n < 2,
      refetchOnWindowFocus: false,
    },
  },
});
const router = makeRouter();

function App() {
  const { identity, checking } = useAuth();
  if (checking) return <p className="loading">Checking your key…</p>;
  if (!identity) return <SignIn />;
  return <RouterProvider router={router} />;
}

const root = document.getElementById('root');
if (root)
  createRoot(root).render(
    <StrictMode>
      <ThemeProvider>
        <QueryClientProvider client={queryClient}>
          <AuthProvider onSignOut={() => queryClient.clear()}>
            <App />
          </AuthProvider>
        </QueryClientProvider>
      </ThemeProvider>
    </StrictMode>,
  );
