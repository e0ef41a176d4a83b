// One agent: its configuration, its tasks with their history, a live log, start and stop.
import { useState } from '../../vendor/hooks.js';
import { api } from '../api.js';
import { html } from '../html.js';
import { Link } from '../router.js';
import { Badge, ErrorNote, Loaded, PageTitle, Time, useAction, useApp, useData, useDebounced, useLive } from '../ui.js';

export function AgentControls({ agent, onChanged }) {
  const app = useApp();
  const action = useAction(async (verb) => {
    await api(`/api/agents/${agent.id}/${verb}`, { method: 'POST', org: app.orgId });
    onChanged();
  });
  if (!app.can('agent.manage')) return null;
  const running = agent.desired_state === 'running';
  return html`<div class="controls">
    ${running
      ? html`<button class="secondary small" disabled=${action.busy} onClick=${() => action.run('stop')}>Stop ${agent.name}</button>`
      : html`<button class="small" disabled=${action.busy} onClick=${() => action.run('start')}>Start ${agent.name}</button>`}
    <${ErrorNote} error=${action.error} />
  </div>`;
}

function TaskHistory({ task }) {
  const { orgId } = useApp();
  const [open, setOpen] = useState(false);
  const detail = useData(() => (open ? api(`/api/tasks/${task.id}`, { org: orgId }) : null), [open, task.id, task.updated_at]);
  return html`<li class="row">
    <div class="row-main">
      <${Link} href=${`/tasks/${task.id}`} class="title">${task.title}<//>
      <${Badge} value=${task.status} /> <span class="muted"><${Time} at=${task.created_at} /></span>
      <button class="link-button" aria-expanded=${open} onClick=${() => setOpen(!open)}>${open ? 'Hide history' : 'Show history'}</button>
    </div>
    ${open && html`<${Loaded} state=${detail}>${(data) => data && html`<ol class="history">
      ${data.events.map((e) => html`<li><span class="mono">${e.event}</span> <${Time} at=${e.created_at} /></li>`)}</ol>`}<//>`}
  </li>`;
}

function describe(event) {
  const d = event.data || {};
  if (event.type === 'agent.updated') return `agent: status ${d.status}, wants ${d.desired_state}`;
  return `${event.type === 'task.created' ? 'new task' : 'task'} “${d.title}”: ${d.status}`;
}

export function AgentDetail({ id }) {
  const { orgId } = useApp();
  const agent = useData(() => api(`/api/agents/${id}`, { org: orgId }), [orgId, id]);
  const [log, setLog] = useState([]);
  const reload = useDebounced(agent.reload);
  useLive((event) => {
    const d = event.data || {};
    if ((event.type === 'agent.updated' && d.id === id) || (event.type.startsWith('task.') && d.agent_id === id)) {
      setLog((entries) => [{ id: event.id, at: event.at, text: describe(event) }, ...entries].slice(0, 100));
      reload();
    }
  });
  return html`<${Loaded} state=${agent}>${(a) => html`<div class="page">
    <${PageTitle} actions=${html`<${AgentControls} agent=${a} onChanged=${agent.reload} />`}>${a.name}<//>
    <section class="card">
      <h2>Configuration</h2>
      <dl class="stats">
        <div><dt>Slug</dt><dd class="mono">${a.slug}</dd></div>
        <div><dt>Kind</dt><dd>${a.kind}</dd></div>
        <div><dt>Status</dt><dd><${Badge} value=${a.status} /></dd></div>
        <div><dt>Desired state</dt><dd data-testid="desired-state">${a.desired_state}</dd></div>
        <div><dt>Liveness</dt><dd><${Badge} value=${a.online ? 'online' : 'offline'} /></dd></div>
        <div><dt>Last heartbeat</dt><dd><${Time} at=${a.last_heartbeat} /></dd></div>
      </dl>
      <h3>Settings</h3>
      <pre class="config">${JSON.stringify(a.config, null, 2)}</pre>
    </section>
    <section class="card" aria-labelledby="log-title">
      <h2 id="log-title">Live log</h2>
      ${log.length === 0 ? html`<p class="muted">Changes to this agent and its tasks appear here as they happen.</p>`
        : html`<ol class="log" aria-live="polite">${log.map((entry) => html`<li key=${entry.id}><${Time} at=${entry.at} /> ${entry.text}</li>`)}</ol>`}
    </section>
    <section aria-labelledby="history-title">
      <h2 id="history-title">Execution history</h2>
      ${a.recent_tasks.length === 0 ? html`<p class="muted">No tasks yet.</p>`
        : html`<ul class="rows">${a.recent_tasks.map((task) => html`<${TaskHistory} key=${task.id} task=${task} />`)}</ul>`}
    </section>
  </div>`}<//>`;
}
