import type { InboxMessage } from './api';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** The smallest inbox id of a millisecond: ids start with their time, so `after` it means "since then". */
export function inboxIdAt(ms: number): string {
  let out = '';
  let v = Math.max(0, Math.floor(ms));
  while (v > 0) {
    out = BASE62[v % 62] + out;
    v = Math.floor(v / 62);
  }
  return `inb_${out.padStart(8, '0')}`;
}

/**
 * Follows /inbox/stream (server-sent events) with fetch, which, unlike
 * EventSource, can send an Authorization header. Reconnects after a drop,
 * from the last id seen. Answers a function that stops it.
 */
export function followInbox(options: {
  phone?: string;
  after?: string;
  authorization?: string;
  onMessage: (message: InboxMessage) => void;
  onState: (state: 'connecting' | 'live' | 'error', detail?: string) => void;
}): () => void {
  const controller = new AbortController();
  let last = options.after;
  let stopped = false;

  const run = async () => {
    while (!stopped) {
      options.onState('connecting');
      try {
        const q = new URLSearchParams();
        if (options.phone) q.set('phone', options.phone);
        if (last) q.set('after', last);
        const res = await fetch(`/inbox/stream?${q}`, {
          headers: {
            accept: 'text/event-stream',
            ...(options.authorization ? { authorization: options.authorization } : {}),
          },
          credentials: 'same-origin',
          signal: controller.signal,
        });
        if (!res.ok || !res.body) {
          const body = await res.json().catch(() => null);
          options.onState('error', body?.error?.message ?? `The inbox answered ${res.status}.`);
          // A refused credential will not get better by retrying.
          if (res.status === 401 || res.status === 400) return;
        } else {
          options.onState('live');
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          let buffer = '';
          for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            buffer += value;
            let end = buffer.indexOf('\n\n');
            while (end >= 0) {
              const block = buffer.slice(0, end);
              buffer = buffer.slice(end + 2);
              const data = block
                .split('\n')
                .filter((l) => l.startsWith('data:'))
                .map((l) => l.slice(5).trimStart())
                .join('\n');
              if (data) {
                const message = JSON.parse(data) as InboxMessage;
                last = message.id;
                options.onMessage(message);
              }
              end = buffer.indexOf('\n\n');
            }
          }
        }
      } catch {
        if (stopped) return;
        options.onState('error', 'The live connection dropped; reconnecting…');
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 2000));
    }
  };
  run();
  return () => {
    stopped = true;
    controller.abort();
  };
}
