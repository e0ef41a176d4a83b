// Organization settings: details, members and their roles, teams, invitations, the caller's API keys.
import { useState } from '../../vendor/hooks.js';
import { api } from '../api.js';
import { html } from '../html.js';
import { Link } from '../router.js';
import { Badge, ErrorNote, Input, Loaded, Note, PageTitle, Select, Time, useAction, useApp, useData } from '../ui.js';

function tabsFor(app) {
  return [
    ['details', 'Details', true],
    ['members', 'Members', app.can('team.view')],
    ['teams', 'Teams', app.can('team.view')],
    ['invitations', 'Invitations', app.can('user.manage') && app.person()],
    ['api-keys', 'API keys', true],
  ].filter(([, , shown]) => shown);
}

function Details() {
  const app = useApp();
  const org = useData(() => api(`/api/organizations/${app.orgId}`), [app.orgId]);
  const [name, setName] = useState(null);
  const save = useAction(async () => {
    await api(`/api/organizations/${app.orgId}`, { method: 'PATCH', body: { name } });
    setName(null);
    await Promise.all([org.reload(), app.reloadOrgs(app.orgId)]);
  });
  return html`<${Loaded} state=${org}>${(o) => html`<section class="card">
    <h2>Details</h2>
    ${app.can('organization.manage') ? html`<form class="row-form" onSubmit=${(e) => { e.preventDefault(); save.run(); }}>
        <${Input} label="Organization name" required maxlength="200" value=${name ?? o.name} onInput=${setName} />
        <button type="submit" disabled=${save.busy || name === null}>Save</button>
      </form><${ErrorNote} error=${save.error} />`
      : html`<p><strong>${o.name}</strong></p>`}
    <dl class="stats">
      <div><dt>Short name</dt><dd class="mono">${o.slug}</dd></div>
      <div><dt>Created</dt><dd><${Time} at=${o.created_at} /></dd></div>
      <div><dt>Your roles</dt><dd>${app.access.roles.join(', ') || 'none'}</dd></div>
    </dl>
    <h3>What you may do here</h3>
    <ul class="chips">${app.access.permissions.map((p) => html`<li class="chip mono">${p}</li>`)}</ul>
  </section>`}<//>`;
}

function useRoles() {
  const { orgId } = useApp();
  return useData(() => api('/api/roles?limit=200', { org: orgId }), [orgId]);
}

function MemberRow({ member, roles, manage, onChanged }) {
  const app = useApp();
  const [roleId, setRoleId] = useState('');
  const act = useAction(async (method, path, body) => {
    await api(path, { method, org: app.orgId, body });
    setRoleId('');
    onChanged();
  });
  const held = new Set(member.roles.map((r) => r.id));
  const addable = roles.filter((r) => !held.has(r.id));
  return html`<li class="row">
    <div class="row-main"><span class="title">${member.name}</span> <span class="muted">${member.email}</span></div>
    <ul class="chips">${member.roles.map((role) => html`<li class="chip">${role.name}
      ${manage && html`<button class="chip-x" aria-label=${`Take ${role.name} from ${member.name}`}
        onClick=${() => act.run('DELETE', `/api/users/${member.user_id}/roles/${role.id}`)}>×</button>`}</li>`)}</ul>
    ${manage && html`<div class="row-form">
      <${Select} label=${`Role for ${member.name}`} value=${roleId} onChange=${setRoleId}
        options=${[['', 'Choose a role'], ...addable.map((r) => [r.id, r.name])]} />
      <button class="secondary small" disabled=${!roleId || act.busy}
        onClick=${() => act.run('POST', `/api/users/${member.user_id}/roles`, { role_id: roleId })}>Assign</button>
      ${member.user_id !== app.user.id && html`<button class="danger small" disabled=${act.busy}
        onClick=${() => act.run('DELETE', `/api/organizations/${app.orgId}/members/${member.user_id}`)}>Remove</button>`}
    </div>`}
    <${ErrorNote} error=${act.error} />
  </li>`;
}

function Members() {
  const app = useApp();
  const members = useData(() => api(`/api/organizations/${app.orgId}/members?limit=200`), [app.orgId]);
  const roles = useRoles();
  const manage = app.can('user.manage') && app.person();
  return html`<section class="card"><h2>Members</h2>
    <${Loaded} state=${members}>${(data) => html`<ul class="rows">${data.items.map((m) => html`<${MemberRow} key=${m.user_id}
      member=${m} roles=${roles.data ? roles.data.items : []} manage=${manage} onChanged=${members.reload} />`)}</ul>`}<//>
  </section>`;
}

function TeamCard({ team, members, manage, onChanged }) {
  const app = useApp();
  const [name, setName] = useState(team.name);
  const [userId, setUserId] = useState('');
  const act = useAction(async (method, path, body) => {
    await api(path, { method, org: app.orgId, body });
    setUserId('');
    onChanged();
  });
  const byId = Object.fromEntries(members.map((m) => [m.user_id, m]));
  const outside = members.filter((m) => !team.members.includes(m.user_id));
  return html`<article class="card team">
    <h3>${team.name}</h3>
    <ul class="chips">${team.members.map((id) => html`<li class="chip">${byId[id] ? byId[id].name : 'member'}
      ${manage && html`<button class="chip-x" aria-label=${`Remove from ${team.name}`}
        onClick=${() => act.run('DELETE', `/api/teams/${team.id}/members/${id}`)}>×</button>`}</li>`)}
      ${team.members.length === 0 && html`<li class="muted">No members yet.</li>`}</ul>
    ${manage && html`<div class="row-form">
        <${Select} label=${`Add to ${team.name}`} value=${userId} onChange=${setUserId}
          options=${[['', 'Choose a member'], ...outside.map((m) => [m.user_id, m.name])]} />
        <button class="secondary small" disabled=${!userId || act.busy}
          onClick=${() => act.run('POST', `/api/teams/${team.id}/members`, { user_id: userId })}>Add</button>
      </div>
      <form class="row-form" onSubmit=${(e) => { e.preventDefault(); act.run('PATCH', `/api/teams/${team.id}`, { name }); }}>
        <${Input} label=${`Rename ${team.name}`} required value=${name} onInput=${setName} />
        <button class="secondary small" type="submit" disabled=${act.busy || name === team.name}>Rename</button>
        <button class="danger small" type="button" disabled=${act.busy} onClick=${() => act.run('DELETE', `/api/teams/${team.id}`)}>Delete team</button>
      </form>`}
    <${ErrorNote} error=${act.error} />
  </article>`;
}

function Teams() {
  const app = useApp();
  const teams = useData(() => api(`/api/organizations/${app.orgId}/teams?limit=200`), [app.orgId]);
  const members = useData(() => api(`/api/organizations/${app.orgId}/members?limit=200`), [app.orgId]);
  const [name, setName] = useState('');
  const manage = app.can('team.manage');
  const create = useAction(async () => {
    await api(`/api/organizations/${app.orgId}/teams`, { method: 'POST', body: { name } });
    setName('');
    teams.reload();
  });
  return html`<section><h2>Teams</h2>
    ${manage && html`<form class="card row-form" onSubmit=${(e) => { e.preventDefault(); create.run(); }}>
      <${Input} label="New team name" required maxlength="200" value=${name} onInput=${setName} />
      <button type="submit" disabled=${create.busy}>Create team</button>
      <${ErrorNote} error=${create.error} />
    </form>`}
    <${Loaded} state=${teams}>${(data) => (data.items.length === 0 ? html`<p class="muted">No teams yet.</p>`
      : html`<div class="grid">${data.items.map((team) => html`<${TeamCard} key=${team.id + team.updated_at} team=${team}
          members=${members.data ? members.data.items : []} manage=${manage} onChanged=${teams.reload} />`)}</div>`)}<//>
  </section>`;
}

function Invitations() {
  const app = useApp();
  const list = useData(() => api(`/api/organizations/${app.orgId}/invitations?limit=200`), [app.orgId]);
  const roles = useRoles();
  const [email, setEmail] = useState('');
  const [role, setRole] = useState('Member');
  const [sent, setSent] = useState(null);
  const invite = useAction(async () => {
    await api(`/api/organizations/${app.orgId}/invitations`, { method: 'POST', body: { email, role } });
    setSent(email);
    setEmail('');
    list.reload();
  });
  const revoke = useAction(async (id) => {
    await api(`/api/organizations/${app.orgId}/invitations/${id}`, { method: 'DELETE' });
    list.reload();
  });
  const roleOptions = (roles.data ? roles.data.items : []).map((r) => [r.name, r.name]);
  return html`<section><h2>Invitations</h2>
    <form class="card row-form" onSubmit=${(e) => { e.preventDefault(); invite.run(); }}>
      <${Input} label="E-mail to invite" type="email" required value=${email} onInput=${setEmail} />
      <${Select} label="Role" value=${role} onChange=${setRole} options=${roleOptions.length ? roleOptions : [['Member', 'Member']]} />
      <button type="submit" disabled=${invite.busy}>Send invitation</button>
    </form>
    ${sent && html`<${Note} kind="success">Invitation sent to ${sent}.<//>`}
    <${ErrorNote} error=${invite.error || revoke.error} />
    <${Loaded} state=${list}>${(data) => (data.items.length === 0 ? html`<p class="muted">No invitations.</p>`
      : html`<ul class="rows">${data.items.map((i) => html`<li class="row" key=${i.id}>
          <div class="row-main"><span class="title">${i.email}</span> <span class="chip">${i.role.name}</span> <${Badge} value=${i.status} /></div>
          <div class="row-meta muted">sent <${Time} at=${i.created_at} />
            ${i.status === 'pending' && html` <button class="danger small" disabled=${revoke.busy} onClick=${() => revoke.run(i.id)}>Revoke</button>`}</div>
        </li>`)}</ul>`)}<//>
  </section>`;
}

function ApiKeys() {
  const app = useApp();
  const keys = useData(() => api('/api/api-keys?limit=200', { org: app.orgId }), [app.orgId]);
  const [name, setName] = useState('');
  const [created, setCreated] = useState(null);
  const [copied, setCopied] = useState(false);
  const create = useAction(async () => {
    setCreated(await api('/api/api-keys', { method: 'POST', org: app.orgId, body: { name } }));
    setCopied(false);
    setName('');
    keys.reload();
  });
  const revoke = useAction(async (id) => {
    await api(`/api/api-keys/${id}`, { method: 'DELETE', org: app.orgId });
    keys.reload();
  });
  const copy = async () => { await navigator.clipboard.writeText(created.key); setCopied(true); };
  return html`<section><h2>Your API keys</h2>
    <p class="muted">A key acts as you, in this organization, for scripts and agent workers.</p>
    ${app.person() && html`<form class="card row-form" onSubmit=${(e) => { e.preventDefault(); create.run(); }}>
      <${Input} label="Key name" required maxlength="200" value=${name} onInput=${setName} />
      <button type="submit" disabled=${create.busy}>Create key</button>
    </form>`}
    ${created && html`<div class="note success new-key" role="status">
      <p><strong>Copy the key “${created.name}” now: it is shown only this once.</strong></p>
      <p class="key-line"><code data-testid="new-key">${created.key}</code>
        <button class="small" onClick=${copy}>${copied ? 'Copied' : 'Copy'}</button>
        <button class="secondary small" onClick=${() => setCreated(null)}>Done</button></p>
    </div>`}
    <${ErrorNote} error=${create.error || revoke.error} />
    <${Loaded} state=${keys}>${(data) => (data.items.length === 0 ? html`<p class="muted">No keys yet.</p>`
      : html`<ul class="rows">${data.items.map((k) => html`<li class="row" key=${k.id}>
          <div class="row-main"><span class="title">${k.name}</span> <code>${k.prefix}…</code>
            ${k.revoked_at && html`<${Badge} value="revoked" />`}</div>
          <div class="row-meta muted">created <${Time} at=${k.created_at} /> · used <${Time} at=${k.last_used_at} />
            ${!k.revoked_at && html` <button class="danger small" disabled=${revoke.busy} onClick=${() => revoke.run(k.id)}>Revoke</button>`}</div>
        </li>`)}</ul>`)}<//>
  </section>`;
}

const PANELS = { details: Details, members: Members, teams: Teams, invitations: Invitations, 'api-keys': ApiKeys };

export function Settings({ tab }) {
  const app = useApp();
  const tabs = tabsFor(app);
  const Panel = tabs.some(([key]) => key === tab) ? PANELS[tab] : null;
  return html`<div class="page">
    <${PageTitle}>Settings<//>
    <nav class="tabs" aria-label="Settings">
      ${tabs.map(([key, text]) => html`<${Link} href=${`/settings/${key}`} aria-current=${key === tab ? 'page' : undefined}>${text}<//>`)}
    </nav>
    ${Panel ? html`<${Panel} />` : html`<p>This section does not exist or is not open to you.</p>`}
  </div>`;
}
