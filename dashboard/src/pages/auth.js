// Signing in and everything around it: login, register, verify e-mail, forgot and reset
// password, accept an invitation.
import { useEffect, useState } from '../../vendor/hooks.js';
import { api, logIn } from '../api.js';
import { html } from '../html.js';
import { Link, navigate } from '../router.js';
import { Checkbox, ErrorNote, Input, Note, PageTitle, useAction } from '../ui.js';

const withNext = (path, next) => (next ? `${path}?next=${encodeURIComponent(next)}` : path);
const safeNext = (next) => (next && next.startsWith('/') && !next.startsWith('//') ? next : '/');

function AuthCard({ title, children }) {
  return html`<main class="auth" id="main"><div class="card auth-card">
    <p class="brand-line"><span class="logo" aria-hidden="true">M</span> Miyabi</p>
    <${PageTitle}>${title}<//>
    ${children}
  </div></main>`;
}

export function Login({ query, message, onSignedIn }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [remember, setRemember] = useState(false);
  const next = query.get('next');
  const action = useAction(async () => {
    await logIn(email, password, remember);
    await onSignedIn();
    navigate(safeNext(next), { replace: true });
  });
  const submit = (event) => { event.preventDefault(); action.run(); };
  return html`<${AuthCard} title="Log in">
    ${message && html`<${Note} kind="warning">${message}<//>`}
    <form onSubmit=${submit}>
      <${Input} label="E-mail" type="email" autocomplete="username" required value=${email} onInput=${setEmail} />
      <${Input} label="Password" type="password" autocomplete="current-password" required value=${password} onInput=${setPassword} />
      <${Checkbox} label="Remember me on this device" checked=${remember} onChange=${setRemember} />
      <${ErrorNote} error=${action.error} />
      <button type="submit" disabled=${action.busy}>${action.busy ? 'Logging in…' : 'Log in'}</button>
    </form>
    <p class="links"><${Link} href="/forgot-password">Forgot your password?<//>
      <span>New here? <${Link} href=${withNext('/register', next)}>Create an account<//></span></p>
  <//>`;
}

export function Register({ query }) {
  const [form, setForm] = useState({ name: '', email: '', password: '', terms: false });
  const [done, setDone] = useState(false);
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const next = query.get('next');
  const action = useAction(async () => {
    await api('/api/auth/register', { method: 'POST', body: { name: form.name, email: form.email, password: form.password } });
    setDone(true);
  });
  const submit = (event) => { event.preventDefault(); action.run(); };
  if (done) {
    return html`<${AuthCard} title="Check your e-mail">
      <${Note}>We sent a link to <strong>${form.email}</strong>. Open it to confirm your address.<//>
      <p><${Link} href=${withNext('/login', next)}>Go to the login page<//></p>
    <//>`;
  }
  return html`<${AuthCard} title="Create an account">
    <form onSubmit=${submit}>
      <${Input} label="Name" autocomplete="name" required maxlength="200" value=${form.name} onInput=${set('name')} />
      <${Input} label="E-mail" type="email" autocomplete="email" required value=${form.email} onInput=${set('email')} />
      <${Input} label="Password" type="password" autocomplete="new-password" required minlength="8"
        hint="At least 8 characters." value=${form.password} onInput=${set('password')} />
      <${Checkbox} label="I accept the terms of service" required checked=${form.terms} onChange=${set('terms')} />
      <${ErrorNote} error=${action.error} />
      <button type="submit" disabled=${action.busy || !form.terms}>Create account</button>
    </form>
    <p class="links"><span>Have an account? <${Link} href=${withNext('/login', next)}>Log in<//></span></p>
  <//>`;
}

export function VerifyEmail({ query, signedIn }) {
  const token = query.get('token') || '';
  const [state, setState] = useState({ done: false, error: null });
  useEffect(() => {
    api('/api/auth/verify-email', { method: 'POST', body: { token } })
      .then(() => setState({ done: true, error: null }))
      .catch((error) => setState({ done: false, error }));
  }, [token]);
  return html`<${AuthCard} title="Confirm your e-mail">
    ${!state.done && !state.error && html`<p class="muted">Confirming…</p>`}
    ${state.done && html`<${Note} kind="success">Your e-mail address is confirmed.<//>`}
    <${ErrorNote} error=${state.error} />
    <p>${signedIn ? html`<${Link} href="/">Continue to the dashboard<//>` : html`<${Link} href="/login">Log in<//>`}</p>
  <//>`;
}

export function ForgotPassword() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const action = useAction(async () => {
    await api('/api/auth/forgot-password', { method: 'POST', body: { email } });
    setSent(true);
  });
  const submit = (event) => { event.preventDefault(); action.run(); };
  return html`<${AuthCard} title="Reset your password">
    ${sent ? html`<${Note}>If an account uses ${email}, a reset link is on its way.<//>` : html`
      <form onSubmit=${submit}>
        <${Input} label="E-mail" type="email" autocomplete="email" required value=${email} onInput=${setEmail} />
        <${ErrorNote} error=${action.error} />
        <button type="submit" disabled=${action.busy}>Send the link</button>
      </form>`}
    <p class="links"><${Link} href="/login">Back to login<//></p>
  <//>`;
}

export function ResetPassword({ query }) {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [done, setDone] = useState(false);
  const action = useAction(async () => {
    if (password !== again) throw new Error('The two passwords differ.');
    await api('/api/auth/reset-password', { method: 'POST', body: { token: query.get('token') || '', password } });
    setDone(true);
  });
  const submit = (event) => { event.preventDefault(); action.run(); };
  return html`<${AuthCard} title="Choose a new password">
    ${done ? html`<${Note} kind="success">Your password is changed, and every session was ended.<//>` : html`
      <form onSubmit=${submit}>
        <${Input} label="New password" type="password" autocomplete="new-password" required minlength="8" value=${password} onInput=${setPassword} />
        <${Input} label="New password again" type="password" autocomplete="new-password" required minlength="8" value=${again} onInput=${setAgain} />
        <${ErrorNote} error=${action.error} />
        <button type="submit" disabled=${action.busy}>Change password</button>
      </form>`}
    <p class="links"><${Link} href="/login">Log in<//></p>
  <//>`;
}

export function AcceptInvitation({ query, signedIn, onJoined }) {
  const here = `/invitations/accept?token=${encodeURIComponent(query.get('token') || '')}`;
  const action = useAction(async () => {
    const membership = await api('/api/invitations/accept', { method: 'POST', body: { token: query.get('token') || '' } });
    await onJoined(membership.organization_id);
    navigate('/', { replace: true });
  });
  if (!signedIn) {
    return html`<${AuthCard} title="You are invited">
      <p>Log in, or create an account with the e-mail address the invitation was sent to, to join.</p>
      <p class="links"><${Link} class="button" href=${withNext('/login', here)}>Log in to accept<//>
        <${Link} href=${withNext('/register', here)}>Create an account<//></p>
    <//>`;
  }
  return html`<${AuthCard} title="Join the organization">
    <p>Accept the invitation to join with the role it offers.</p>
    <${ErrorNote} error=${action.error} />
    <button onClick=${() => action.run()} disabled=${action.busy}>Accept invitation</button>
  <//>`;
}
