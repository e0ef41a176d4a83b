// Live updates: the organization's event feed, streamed with fetch (so the Authorization header
// is sent, which EventSource cannot do), resuming with Last-Event-ID; long polls of /api/events
// where the stream is not served (404 on AWS Lambda). After any drop it resumes from the last id
// it saw, so nothing is missed.
import { api, refresh, token } from './api.js';

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

function parseBlock(block) {
  const data = block.split('\n').filter((line) => line.startsWith('data:')).map((line) => line.slice(5).trimStart());
  return data.length ? JSON.parse(data.join('\n')) : null;
}

/**
 * Follow `org`'s events after id `after`: `onEvent(event)` for each, `onState('live' |
 * 'reconnecting' | 'polling')` as the connection changes. Returns a function that stops it.
 */
export function follow(org, after, onEvent, onState) {
  let last = after;
  let stopped = false;
  let controller = null;
  let mode = 'stream';

  const deliver = (event) => {
    if (event && event.id > last) {
      last = event.id;
      onEvent(event);
    }
  };

  async function stream() {
    controller = new AbortController();
    const response = await fetch('/api/events/stream', {
      headers: { Authorization: `Bearer ${token()}`, 'X-Organization-Id': org, 'Last-Event-ID': String(last), Accept: 'text/event-stream' },
      signal: controller.signal, cache: 'no-store',
    });
    if (response.status === 404) { mode = 'poll'; return; }
    if (response.status === 401) { await refresh(); return; }
    if (!response.ok) throw new Error(`stream answered ${response.status}`);
    onState('live');
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value.replace(/\r\n?/g, '\n');
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        deliver(parseBlock(buffer.slice(0, end)));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
      }
    }
  }

  async function poll() {
    controller = new AbortController();
    onState('polling');
    const page = await api(`/api/events?after=${last}&wait=20`, { org, signal: controller.signal });
    page.items.forEach(deliver);
  }

  (async () => {
    let backoff = 500;
    while (!stopped) {
      try {
        await (mode === 'stream' ? stream() : poll());
        backoff = 500;
      } catch (error) {
        if (stopped) return;
        onState('reconnecting');
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 8_000);
      }
    }
  })();

  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}
