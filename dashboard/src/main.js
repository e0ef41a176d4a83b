// The app: restores the session, knows the organization and what the caller may do in it,
// follows its live events, and shows the page the path names.
import { render } from '../vendor/preact.js';
import { useCallback, useEffect, useMemo, useState } from '../vendor/hooks.js';
import { api, logOut, onSessionEnded, restore, signedIn } from './api.js';
import { html } from './html.js';
import { follow } from './live.js';
import { Link, match, navigate, useRoute } from './router.js';
import { AppContext, ErrorNote, Loading } from './ui.js';
import { AcceptInvitation, ForgotPassword, Login, Register, ResetPassword, VerifyEmail } from './pages/auth.js';
import { AgentDetail } from './pages/agents.js';
import { Home } from './pages/home.js';
import { CreateOrganization, OrganizationSelect } from './pages/organizations.js';
import { Settings } from './pages/settings.js';
import { TaskDetail, Tasks } from './pages/tasks.js';

const ORG_KEY = 'miyabi.organization';
const PUBLIC = ['/login', '/register', '/verify-email', '/forgot-password', '/reset-password', '/invitations/accept'];

function liveHub() {
  const handlers = new Set();
  return {
    subscribe(handler) { handlers.add(handler); return () => handlers.delete(handler); },
    emit(event) { handlers.forEach((handler) => handler(event)); },
  };
}

const LIVE_TEXT = { live: 'Live', polling: 'Live (polling)', reconnecting: 'Reconnecting…', off: 'Offline' };

function Shell({ app, path, children }) {
  const nav = [['/', 'Home'], ['/tasks', 'Tasks'], ['/settings/details', 'Settings']];
  const current = (href) => (href === '/' ? path === '/' : path.startsWith(href.replace(/\/details$/, '')));
  return html`<div class="shell">
    <a class="skip" href="#main">Skip to content</a>
    <header class="topbar">
      <${Link} class="brand" href="/"><span class="logo" aria-hidden="true">M</span> Miyabi<//>
      <nav aria-label="Main">
        ${nav.map(([href, text]) => html`<${Link} href=${href} aria-current=${current(href) ? 'page' : undefined}>${text}<//>`)}
      </nav>
      <div class="topbar-end">
        <${OrganizationSelect} />
        <span class=${`live live-${app.liveState}`} role="status" title="Live updates">${LIVE_TEXT[app.liveState] || ''}</span>
        <span class="who" title=${app.user.email}>${app.user.name}</span>
        <button class="secondary small" onClick=${app.signOut}>Log out</button>
      </div>
    </header>
    <main id="main" tabindex="-1">${children}</main>
  </div>`;
}

function App() {
  const { path, query } = useRoute();
  const [boot, setBoot] = useState('loading');
  const [user, setUser] = useState(null);
  const [orgs, setOrgs] = useState(null);
  const [orgId, setOrgId] = useState(localStorage.getItem(ORG_KEY));
  const [access, setAccess] = useState(null);
  const [error, setError] = useState(null);
  const [ended, setEnded] = useState(null);
  const [liveState, setLiveState] = useState('off');
  const live = useMemo(liveHub, []);

  const loadOrgs = useCallback(async (prefer) => {
    const page = await api('/api/organizations?limit=200');
    setOrgs(page.items);
    const wanted = prefer || localStorage.getItem(ORG_KEY);
    const chosen = page.items.find((o) => o.id === wanted) || page.items[0] || null;
    setOrgId(chosen ? chosen.id : null);
    if (chosen) localStorage.setItem(ORG_KEY, chosen.id);
    return chosen;
  }, []);

  const loadUser = useCallback(async () => {
    setUser(await api('/api/auth/me'));
    await loadOrgs();
  }, [loadOrgs]);

  useEffect(() => {
    restore().then((ok) => (ok ? loadUser() : null)).catch(setError).finally(() => setBoot('ready'));
    return onSessionEnded((message) => {
      setUser(null);
      setAccess(null);
      setEnded(message);
      navigate(`/login?next=${encodeURIComponent(location.pathname + location.search)}`, { replace: true });
    });
  }, []);

  useEffect(() => {
    if (!user || !orgId) { setAccess(null); return undefined; }
    let stop = () => {};
    let cancelled = false;
    setAccess(null);
    api(`/api/organizations/${orgId}/me`).then((mine) => {
      if (cancelled) return;
      setAccess(mine);
      stop = follow(orgId, mine.last_event_id, live.emit, setLiveState);
    }).catch((caught) => {
      if (caught.status === 404) { localStorage.removeItem(ORG_KEY); loadOrgs(); } else setError(caught);
    });
    return () => { cancelled = true; stop(); setLiveState('off'); };
  }, [user, orgId]);

  const app = {
    user, orgs, orgId, access, live, liveState,
    can: (permission) => Boolean(access && access.permissions.includes(permission)),
    person: () => Boolean(access && access.person),
    switchOrg: (id) => { localStorage.setItem(ORG_KEY, id); setOrgId(id); },
    reloadOrgs: loadOrgs,
    signOut: async () => { await logOut(); setUser(null); setOrgs(null); setAccess(null); navigate('/login', { replace: true }); },
  };

  if (boot === 'loading') return html`<${Loading} what="Loading Miyabi" />`;
  const isPublic = PUBLIC.includes(path);
  if (path === '/login') return html`<${Login} query=${query} message=${ended} onSignedIn=${async () => { setEnded(null); await loadUser(); }} />`;
  if (path === '/register') return html`<${Register} query=${query} />`;
  if (path === '/verify-email') return html`<${VerifyEmail} query=${query} signedIn=${Boolean(user)} />`;
  if (path === '/forgot-password') return html`<${ForgotPassword} />`;
  if (path === '/reset-password') return html`<${ResetPassword} query=${query} />`;
  if (path === '/invitations/accept') {
    return html`<${AcceptInvitation} query=${query} signedIn=${Boolean(user) && signedIn()}
      onJoined=${async (id) => { await loadOrgs(id); }} />`;
  }
  if (!isPublic && (!user || !signedIn())) {
    queueMicrotask(() => navigate(`/login?next=${encodeURIComponent(path + location.search)}`, { replace: true }));
    return null;
  }
  if (orgs === null) return html`<${Loading} />`;
  const page = pageFor(path, query, orgs, orgId, access);
  return html`<${AppContext.Provider} value=${app}>
    <${Shell} app=${app} path=${path}>${error && html`<${ErrorNote} error=${error} />`}${page}<//>
  <//>`;
}

function pageFor(path, query, orgs, orgId, access) {
  if (path === '/organizations/new') return html`<${CreateOrganization} />`;
  if (orgs.length === 0 || !orgId) {
    queueMicrotask(() => navigate('/organizations/new', { replace: true }));
    return null;
  }
  if (!access) return html`<${Loading} />`;
  let params;
  if (path === '/') return html`<${Home} key=${orgId} />`;
  if (path === '/tasks') return html`<${Tasks} key=${orgId} query=${query} />`;
  if ((params = match('/tasks/:id', path))) return html`<${TaskDetail} key=${params.id} id=${params.id} />`;
  if ((params = match('/agents/:id', path))) return html`<${AgentDetail} key=${params.id} id=${params.id} />`;
  if (path === '/settings') { queueMicrotask(() => navigate('/settings/details', { replace: true })); return null; }
  if ((params = match('/settings/:tab', path))) return html`<${Settings} key=${orgId} tab=${params.tab} />`;
  return html`<section><h1>Page not found</h1><p>Nothing lives at this address. <${Link} href="/">Go home<//></p></section>`;
}

render(html`<${App} />`, document.getElementById('app'));
