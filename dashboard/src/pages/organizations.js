// The organization selector of the top bar, and creating an organization.
import { useState } from '../../vendor/hooks.js';
import { api } from '../api.js';
import { html } from '../html.js';
import { navigate } from '../router.js';
import { ErrorNote, Input, PageTitle, useAction, useApp } from '../ui.js';

const NEW = '__new__';

export function OrganizationSelect() {
  const app = useApp();
  const change = (event) => {
    const value = event.currentTarget.value;
    if (value === NEW) navigate('/organizations/new');
    else { app.switchOrg(value); navigate('/'); }
  };
  return html`<label class="org-select"><span class="sr-only">Organization</span>
    <select value=${app.orgId || ''} onChange=${change} aria-label="Organization">
      ${app.orgs.length === 0 && html`<option value="">No organization</option>`}
      ${app.orgs.map((org) => html`<option value=${org.id}>${org.name}</option>`)}
      <option value=${NEW}>+ New organization…</option>
    </select></label>`;
}

const slugOf = (name) => name.toLowerCase().normalize('NFKD').replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);

export function CreateOrganization() {
  const app = useApp();
  const [name, setName] = useState('');
  const [slug, setSlug] = useState('');
  const [touched, setTouched] = useState(false);
  const action = useAction(async () => {
    const org = await api('/api/organizations', { method: 'POST', body: { name, slug: slug || slugOf(name) } });
    await app.reloadOrgs(org.id);
    navigate('/');
  });
  const submit = (event) => { event.preventDefault(); action.run(); };
  return html`<section class="narrow">
    <${PageTitle}>New organization<//>
    ${app.orgs.length === 0 && html`<p>Create your first organization to manage its agents and tasks. You will be its Admin.</p>`}
    <form class="card" onSubmit=${submit}>
      <${Input} label="Name" required maxlength="200" value=${name}
        onInput=${(value) => { setName(value); if (!touched) setSlug(slugOf(value)); }} />
      <${Input} label="Short name (in addresses)" required pattern="[a-z0-9][a-z0-9\\-]{1,62}"
        hint="Lowercase letters, digits and dashes." value=${slug} onInput=${(value) => { setTouched(true); setSlug(value); }} />
      <${ErrorNote} error=${action.error} />
      <button type="submit" disabled=${action.busy}>Create organization</button>
    </form>
  </section>`;
}
