import { render } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { api, onSessionTrouble, type SessionState } from './api';
import { Loading } from './components/ui';
import { AppDetailPage, AppsPage } from './pages/apps';
import { ForgotPage, LoginPage, ResetPage, SignupPage, VerifyEmailPage } from './pages/auth';
import { BillingPage } from './pages/billing';
import { ConsolePage } from './pages/console';
import { DemoPage } from './pages/demo';
import { ExplorerPage } from './pages/explorer';
import { InboxPage } from './pages/inbox';
import { OverviewPage } from './pages/overview';
import { SettingsPage } from './pages/settings';
import { TemplatesPage } from './pages/templates';
import { UsagePage } from './pages/usage';
import { WebhooksPage } from './pages/webhooks';
import { navigate, onLinkClick, usePath } from './router';
import { SessionContext, useSession } from './session';

/** Pages anyone may see; the rest need a full session. */
const PUBLIC = ['/login', '/signup', '/verify-email', '/forgot-password', '/reset-password', '/inbox'];

function Nav({ path }: { path: string }) {
  const { state, set } = useSession();
  const user = state?.user;
  if (!user || state.second_factor_required) return null;
  const tenant = user.role === 'tenant';
  const links = tenant
    ? [
        ['/', 'Overview'],
        ['/apps', 'Apps & keys'],
        ['/otps', 'OTP explorer'],
        ['/usage', 'Usage'],
        ['/templates', 'Templates'],
        ['/webhooks', 'Webhooks'],
        ['/billing', 'Balance'],
        ['/inbox', 'Inbox'],
        ['/demo', 'Demo'],
        ['/settings', 'Settings'],
      ]
    : [
        ['/console', 'Console'],
        ['/inbox', 'Inbox'],
        ['/settings', 'Settings'],
      ];
  const current = (href: string) =>
    href === '/' ? path === '/' : path === href || path.startsWith(`${href}/`);
  const logout = async () => {
    set(await api.post<SessionState>('/logout'));
    navigate('/login');
  };
  return (
    <nav class="nav" aria-label="Main">
      <ul>
        {links.map(([href, label]) => (
          <li key={href}>
            <a href={href} aria-current={current(href!) ? 'page' : undefined}>
              {label}
            </a>
          </li>
        ))}
      </ul>
      <div class="who">
        <span class="email" title={user.email}>
          {user.email}
        </span>
        <button type="button" class="btn btn-link" onClick={logout}>
          Log out
        </button>
      </div>
    </nav>
  );
}

function Routes({ path }: { path: string }) {
  const { state } = useSession();
  const isPublic = PUBLIC.includes(path);
  const signedIn = !!state?.user && !state.second_factor_required;
  useEffect(() => {
    if (!state) return;
    if (!isPublic && !signedIn) navigate(`/login?next=${encodeURIComponent(path)}`, true);
    if (signedIn && state.user!.role === 'operator' && path === '/') navigate('/console', true);
  }, [state, path, isPublic, signedIn]);
  if (!state) return <Loading />;

  switch (path) {
    case '/login':
      return <LoginPage />;
    case '/signup':
      return <SignupPage />;
    case '/verify-email':
      return <VerifyEmailPage />;
    case '/forgot-password':
      return <ForgotPage />;
    case '/reset-password':
      return <ResetPage />;
    case '/inbox':
      return <InboxPage />;
  }
  if (!signedIn) return <Loading />;
  if (path === '/demo') return <DemoPage />;
  if (path === '/') return <OverviewPage />;
  if (path === '/apps') return <AppsPage />;
  if (path.startsWith('/apps/')) return <AppDetailPage id={path.slice('/apps/'.length)} />;
  if (path === '/otps') return <ExplorerPage />;
  if (path === '/settings') return <SettingsPage />;
  if (path === '/usage') return <UsagePage />;
  if (path === '/templates') return <TemplatesPage />;
  if (path === '/webhooks') return <WebhooksPage />;
  if (path === '/billing') return <BillingPage />;
  if (path === '/console') return <ConsolePage />;
  return (
    <div>
      <h1>Not found</h1>
      <p>
        There is no page at <code>{path}</code>. <a href="/">Back to the overview</a>.
      </p>
    </div>
  );
}

function Root() {
  const path = usePath();
  const [state, setState] = useState<SessionState | undefined>(undefined);
  const refresh = useCallback(async () => {
    const next = await api.get<SessionState>('/session');
    setState(next);
    return next;
  }, []);
  useEffect(() => {
    refresh().catch(() => setState({ user: null, second_factor_required: false, csrf_token: '' }));
    // Links (and Enter on a focused link) go through the router.
    document.addEventListener('click', onLinkClick);
    const off = onSessionTrouble(() => {
      refresh().catch(() => {});
    });
    return () => {
      document.removeEventListener('click', onLinkClick);
      off();
    };
  }, [refresh]);

  return (
    <SessionContext.Provider value={{ state, refresh, set: setState }}>
      <div class="shell">
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/" aria-label="otpd home">
            <span aria-hidden="true">◉</span> otpd
          </a>
          <Nav path={path} />
        </header>
        <main id="main">
          <Routes path={path} />
        </main>
      </div>
    </SessionContext.Provider>
  );
}

render(<Root />, document.getElementById('app')!);
