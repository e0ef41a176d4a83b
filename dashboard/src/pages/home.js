// Home: the system at a glance, the agents, the latest tasks, and quick actions.
import { useState } from '../../vendor/hooks.js';
import { api } from '../api.js';
import { html } from '../html.js';
import { Link } from '../router.js';
import { Badge, ErrorNote, Input, Loaded, PageTitle, Select, Time, useAction, useApp, useData, useDebounced, useLive } from '../ui.js';
import { AgentControls } from './agents.js';
import { NewTaskForm, TaskRow } from './tasks.js';

const STATUSES = ['pending', 'running', 'done', 'failed', 'cancelled'];

function Overview({ system }) {
  return html`<section class="card" aria-labelledby="overview-title">
    <h2 id="overview-title">System</h2>
    <dl class="stats">
      <div><dt>Database</dt><dd><${Badge} value=${system.database} /></dd></div>
      <div><dt>Schema</dt><dd class="mono">${system.schema_version}</dd></div>
      <div><dt>Release</dt><dd class="mono">${system.release}</dd></div>
      <div><dt>Agents online</dt><dd>${system.agents.online}</dd></div>
      <div><dt>Agents offline</dt><dd>${system.agents.offline}</dd></div>
    </dl>
    <h3>Tasks by status</h3>
    <ul class="counts">${STATUSES.map((status) => html`<li data-status=${status}><${Badge} value=${status} /> <strong>${system.tasks[status] ?? 0}</strong></li>`)}</ul>
  </section>`;
}

export function AgentCard({ agent, running, onChanged }) {
  return html`<article class="card agent-card" data-agent=${agent.id}>
    <header><h3><${Link} href=${`/agents/${agent.id}`}>${agent.name}<//></h3><span class="muted">${agent.kind}</span></header>
    <p class="agent-state"><${Badge} value=${agent.online ? 'online' : 'offline'} /> <${Badge} value=${agent.status} />
      <span class="muted">wants ${agent.desired_state}</span></p>
    <p class="muted small-text">Heartbeat <${Time} at=${agent.last_heartbeat} /> · ${running} running</p>
    <${AgentControls} agent=${agent} onChanged=${onChanged} />
  </article>`;
}

function NewAgentForm({ onCreated }) {
  const { orgId } = useApp();
  const [form, setForm] = useState({ name: '', slug: '', kind: 'worker' });
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const action = useAction(async () => {
    await api('/api/agents', { method: 'POST', org: orgId, body: form });
    setForm({ name: '', slug: '', kind: 'worker' });
    onCreated();
  });
  const submit = (event) => { event.preventDefault(); action.run(); };
  return html`<form class="card inline-form" onSubmit=${submit} aria-label="Register an agent">
    <h3>Register an agent</h3>
    <${Input} label="Agent name" required value=${form.name} onInput=${set('name')} />
    <${Input} label="Agent slug" required pattern="[a-z0-9][a-z0-9_\\-]{0,62}" value=${form.slug} onInput=${set('slug')} />
    <${Select} label="Kind" value=${form.kind} onChange=${set('kind')} options=${[['worker', 'Worker'], ['coordinator', 'Coordinator']]} />
    <${ErrorNote} error=${action.error} />
    <button type="submit" disabled=${action.busy}>Register</button>
  </form>`;
}

export function Home() {
  const app = useApp();
  const { orgId } = app;
  const system = useData(() => api('/api/status/system', { org: orgId }), [orgId]);
  const agents = useData(async () => {
    if (!app.can('agent.view')) return null;
    const [list, running] = await Promise.all([
      api('/api/agents?limit=200', { org: orgId }),
      app.can('task.view') ? api('/api/tasks?status=running&limit=200', { org: orgId }) : { items: [] },
    ]);
    const counts = {};
    running.items.forEach((task) => { if (task.agent_id) counts[task.agent_id] = (counts[task.agent_id] || 0) + 1; });
    return { items: list.items, counts };
  }, [orgId]);
  const tasks = useData(() => (app.can('task.view') ? api('/api/tasks?limit=10', { org: orgId }) : null), [orgId]);
  const [showNewTask, setShowNewTask] = useState(false);
  const [showNewAgent, setShowNewAgent] = useState(false);
  const reloadAll = useDebounced(() => { system.reload(); agents.reload(); tasks.reload(); });
  useLive(reloadAll);

  const actions = html`
    ${app.can('task.create') && html`<button onClick=${() => setShowNewTask(!showNewTask)} aria-expanded=${showNewTask}>New task</button>`}
    ${app.can('agent.manage') && html`<button class="secondary" onClick=${() => setShowNewAgent(!showNewAgent)} aria-expanded=${showNewAgent}>Register agent</button>`}`;
  return html`<div class="page">
    <${PageTitle} actions=${actions}>Overview<//>
    ${showNewTask && html`<${NewTaskForm} agents=${agents.data ? agents.data.items : []} onCreated=${() => { setShowNewTask(false); reloadAll(); }} />`}
    ${showNewAgent && html`<${NewAgentForm} onCreated=${() => { setShowNewAgent(false); reloadAll(); }} />`}
    <${Loaded} state=${system}>${(data) => html`<${Overview} system=${data} />`}<//>
    ${app.can('agent.view') && html`<section aria-labelledby="agents-title">
      <h2 id="agents-title">Agents</h2>
      <${Loaded} state=${agents}>${(data) => (data.items.length === 0
        ? html`<p class="muted">No agents yet.${app.can('agent.manage') ? ' Register one to get started.' : ''}</p>`
        : html`<div class="grid">${data.items.map((agent) => html`<${AgentCard} key=${agent.id} agent=${agent}
            running=${data.counts[agent.id] || 0} onChanged=${reloadAll} />`)}</div>`)}<//>
    </section>`}
    ${app.can('task.view') && html`<section aria-labelledby="recent-title">
      <div class="section-head"><h2 id="recent-title">Recent tasks</h2><${Link} href="/tasks">All tasks<//></div>
      <${Loaded} state=${tasks}>${(data) => (data.items.length === 0
        ? html`<p class="muted">No tasks yet.</p>`
        : html`<ul class="rows">${data.items.map((task) => html`<${TaskRow} key=${task.id} task=${task} />`)}</ul>`)}<//>
    </section>`}
  </div>`;
}
