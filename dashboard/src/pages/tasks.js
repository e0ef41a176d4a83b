// Tasks: the list (filter by status, agent and text; paged), a create form, one task's details.
import { useEffect, useRef, useState } from '../../vendor/hooks.js';
import { api } from '../api.js';
import { html } from '../html.js';
import { Link } from '../router.js';
import { Badge, ErrorNote, Field, Input, Loaded, PageTitle, Select, Time, useAction, useApp, useData, useDebounced, useLive } from '../ui.js';

const PAGE_SIZE = 20;
const STATUS_OPTIONS = [['', 'Any status'], ['pending', 'Pending'], ['running', 'Running'], ['done', 'Done'], ['failed', 'Failed'], ['cancelled', 'Cancelled']];
const OPEN = ['pending', 'running'];

export function TaskRow({ task, agentName }) {
  return html`<li class="row" data-task=${task.id}>
    <div class="row-main">
      <${Link} href=${`/tasks/${task.id}`} class="title">${task.title}<//>
      <${Badge} value=${task.status} />
    </div>
    <div class="row-meta muted">${agentName ? `${agentName} · ` : ''}priority ${task.priority} · created <${Time} at=${task.created_at} /></div>
  </li>`;
}

export function NewTaskForm({ agents, onCreated }) {
  const { orgId } = useApp();
  const empty = { title: '', description: '', agent_id: '', priority: '0' };
  const [form, setForm] = useState(empty);
  const set = (key) => (value) => setForm({ ...form, [key]: value });
  const action = useAction(async () => {
    const body = { title: form.title, priority: Number(form.priority) || 0 };
    if (form.description) body.description = form.description;
    if (form.agent_id) body.agent_id = form.agent_id;
    const task = await api('/api/tasks', { method: 'POST', org: orgId, body });
    setForm(empty);
    onCreated(task);
  });
  const submit = (event) => { event.preventDefault(); action.run(); };
  const formRef = useRef(null);
  useEffect(() => { formRef.current.querySelector('input').focus(); }, []);  // opened: type the title
  return html`<form class="card inline-form" ref=${formRef} onSubmit=${submit} aria-label="New task">
    <h2>New task</h2>
    <${Input} label="Title" required maxlength="1000" value=${form.title} onInput=${set('title')} />
    <${Field} label="Description">${(id) => html`<textarea id=${id} rows="3" value=${form.description}
      onInput=${(e) => set('description')(e.currentTarget.value)}></textarea>`}<//>
    <div class="two">
      <${Select} label="Agent" value=${form.agent_id} onChange=${set('agent_id')}
        options=${[['', 'No agent'], ...agents.map((a) => [a.id, a.name])]} />
      <${Input} label="Priority" type="number" step="1" value=${form.priority} onInput=${set('priority')} />
    </div>
    <${ErrorNote} error=${action.error} />
    <button type="submit" disabled=${action.busy}>Create task</button>
  </form>`;
}

export function Tasks({ query }) {
  const app = useApp();
  const { orgId } = app;
  const [status, setStatus] = useState(query.get('status') || '');
  const [agentId, setAgentId] = useState(query.get('agent') || '');
  const [text, setText] = useState('');
  const [cursors, setCursors] = useState([null]);
  const [showNew, setShowNew] = useState(false);
  const cursor = cursors[cursors.length - 1];
  const agents = useData(() => (app.can('agent.view') ? api('/api/agents?limit=200', { org: orgId }) : { items: [] }), [orgId]);
  const tasks = useData(() => {
    const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
    if (status) params.set('status', status);
    if (agentId) params.set('agent_id', agentId);
    if (cursor) params.set('cursor', cursor);
    return api(`/api/tasks?${params}`, { org: orgId });
  }, [orgId, status, agentId, cursor]);
  useLive(useDebounced(tasks.reload));
  const restart = (setter) => (value) => { setter(value); setCursors([null]); };
  const agentList = agents.data ? agents.data.items : [];
  const names = Object.fromEntries(agentList.map((a) => [a.id, a.name]));
  const needle = text.trim().toLowerCase();
  const shown = (items) => (needle ? items.filter((t) => `${t.title} ${t.description || ''}`.toLowerCase().includes(needle)) : items);

  return html`<div class="page">
    <${PageTitle} actions=${app.can('task.create') && html`<button onClick=${() => setShowNew(!showNew)} aria-expanded=${showNew}>New task</button>`}>Tasks<//>
    ${showNew && html`<${NewTaskForm} agents=${agentList} onCreated=${() => { setShowNew(false); setCursors([null]); tasks.reload(); }} />`}
    <form class="filters" role="search" onSubmit=${(e) => e.preventDefault()}>
      <${Select} label="Status" value=${status} onChange=${restart(setStatus)} options=${STATUS_OPTIONS} />
      ${app.can('agent.view') && html`<${Select} label="Agent" value=${agentId} onChange=${restart(setAgentId)}
        options=${[['', 'Any agent'], ...agentList.map((a) => [a.id, a.name])]} />`}
      <${Input} label="Search this page" type="search" value=${text} onInput=${setText} />
    </form>
    <${Loaded} state=${tasks}>${(data) => html`
      ${shown(data.items).length === 0 ? html`<p class="muted">No tasks match.</p>`
        : html`<ul class="rows">${shown(data.items).map((task) => html`<${TaskRow} key=${task.id} task=${task} agentName=${names[task.agent_id]} />`)}</ul>`}
      <nav class="pager" aria-label="Pages">
        <button class="secondary" disabled=${cursors.length === 1} onClick=${() => setCursors(cursors.slice(0, -1))}>Previous</button>
        <span class="muted">Page ${cursors.length}</span>
        <button class="secondary" disabled=${!data.next_cursor} onClick=${() => setCursors([...cursors, data.next_cursor])}>Next</button>
      </nav>`}<//>
  </div>`;
}

export function TaskDetail({ id }) {
  const app = useApp();
  const task = useData(() => api(`/api/tasks/${id}`, { org: app.orgId }), [app.orgId, id]);
  const reload = useDebounced(task.reload);
  useLive((event) => { if (event.data && event.data.id === id) reload(); });
  const cancel = useAction(async () => {
    await api(`/api/tasks/${id}`, { method: 'DELETE', org: app.orgId });
    task.reload();
  });
  return html`<${Loaded} state=${task}>${(t) => {
    const mayCancel = OPEN.includes(t.status)
      && ((t.created_by === app.user.id && app.can('task.create')) || app.can('agent.manage'));
    return html`<div class="page">
      <${PageTitle} actions=${mayCancel && html`<button class="danger" disabled=${cancel.busy} onClick=${() => cancel.run()}>Cancel task</button>`}>${t.title}<//>
      <${ErrorNote} error=${cancel.error} />
      <section class="card">
        <dl class="stats">
          <div><dt>Status</dt><dd data-testid="task-status"><${Badge} value=${t.status} /></dd></div>
          <div><dt>Priority</dt><dd>${t.priority}</dd></div>
          <div><dt>Agent</dt><dd>${t.agent_id ? html`<${Link} href=${`/agents/${t.agent_id}`}>Open agent<//>` : 'none'}</dd></div>
          <div><dt>Created</dt><dd><${Time} at=${t.created_at} /></dd></div>
          <div><dt>Completed</dt><dd>${t.completed_at ? html`<${Time} at=${t.completed_at} />` : '—'}</dd></div>
        </dl>
        ${t.description && html`<h2>Description</h2><p class="prewrap">${t.description}</p>`}
        ${t.result !== null && t.result !== undefined && html`<h2>Result</h2><pre class="config">${JSON.stringify(t.result, null, 2)}</pre>`}
      </section>
      <section class="card" aria-labelledby="history-title">
        <h2 id="history-title">History</h2>
        <ol class="history">${t.events.map((e) => html`<li key=${e.id}><span class="mono">${e.event}</span> <${Time} at=${e.created_at} />
          ${e.payload && e.payload.from && html` <span class="muted">${e.payload.from} → ${e.payload.to}</span>`}</li>`)}</ol>
      </section>
      <p><${Link} href="/tasks">Back to tasks<//></p>
    </div>`;
  }}<//>`;
}
