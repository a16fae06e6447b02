import { useEffect, useMemo, useState } from 'preact/hooks';
import { ApiError, type InboxMessage, request } from '../api';
import { Alert, Button, Card, ErrorMessage, Field, formatTime, PageTitle, useAction } from '../components/ui';
import { useSession } from '../session';
import { followInbox } from '../stream';

const STORAGE = 'otpd_inbox_credential';

interface Mail {
  id: string;
  to: string;
  subject: string;
  text: string | null;
  status: string;
  created_at: string;
}

/** Makes links in a mail's text clickable (they are otpd's own: verification and reset). */
function MailText({ text }: { text: string }) {
  const parts = text.split(/(https?:\/\/\S+)/g);
  return (
    <pre>
      {parts.map((part, i) =>
        /^https?:\/\//.test(part) ? (
          <a key={i} href={part}>
            {part}
          </a>
        ) : (
          part
        ),
      )}
    </pre>
  );
}

export function InboxPage() {
  const { state } = useSession();
  const signedIn = !!state?.user && !state.second_factor_required;
  const [credential, setCredential] = useState(sessionStorage.getItem(STORAGE) ?? '');
  const [draft, setDraft] = useState(credential);
  const [phone, setPhone] = useState('');
  const [appliedPhone, setAppliedPhone] = useState('');
  const [messages, setMessages] = useState<InboxMessage[]>([]);
  const [fresh, setFresh] = useState<Set<string>>(new Set());
  const [live, setLive] = useState<{ state: string; detail?: string }>({ state: 'connecting' });
  const [tab, setTab] = useState<'messages' | 'mail'>('messages');
  const [mail, setMail] = useState<Mail[] | null>(null);
  const [mailError, setMailError] = useState<unknown>(undefined);
  // Logged in, the session decides; a pasted credential is for visitors without one.
  const authorization = !signedIn && credential ? `Bearer ${credential}` : undefined;
  const canRead = signedIn || !!credential;

  const load = useAction(async () => {
    const q = appliedPhone ? `?phone=${encodeURIComponent(appliedPhone)}` : '';
    const data = await request<{ items: InboxMessage[] }>(
      'GET',
      `/inbox/messages${q}`,
      undefined,
      authorization ? { authorization } : {},
    );
    setMessages(data.items);
    return data.items;
  });

  useEffect(() => {
    if (!canRead) return;
    let stop: (() => void) | undefined;
    load.run().then((items) => {
      if (!items) return;
      stop = followInbox({
        phone: appliedPhone || undefined,
        after: items[0]?.id,
        authorization,
        onMessage: (m) => {
          setMessages((prev) => (prev.some((p) => p.id === m.id) ? prev : [m, ...prev]));
          setFresh((prev) => new Set(prev).add(m.id));
        },
        onState: (s, detail) => setLive({ state: s, detail }),
      });
    });
    return () => stop?.();
  }, [credential, appliedPhone, signedIn]);

  useEffect(() => {
    if (tab !== 'mail' || !canRead) return;
    request<{ items: Mail[] }>('GET', '/inbox/mail', undefined, authorization ? { authorization } : {})
      .then((d) => {
        setMail(d.items);
        setMailError(undefined);
      })
      .catch(setMailError);
  }, [tab, credential]);

  const groups = useMemo(() => {
    const byPhone = new Map<string, InboxMessage[]>();
    for (const m of messages) byPhone.set(m.phone, [...(byPhone.get(m.phone) ?? []), m]);
    return [...byPhone];
  }, [messages]);

  const useCredential = () => {
    sessionStorage.setItem(STORAGE, draft.trim());
    setCredential(draft.trim());
  };

  return (
    <>
      <PageTitle sub="Every message the inbox provider received: sandbox codes, and everything when no provider is set up.">
        Inbox
      </PageTitle>
      <Card>
        <form
          class="inbox-bar"
          onSubmit={(e) => {
            e.preventDefault();
            if (!signedIn) useCredential();
            setAppliedPhone(phone.trim());
          }}
        >
          <Field label="Phone" type="tel" value={phone} onValue={setPhone} placeholder="All phones" />
          {!signedIn ? (
            <Field
              label="API key or operator token"
              type="password"
              autoComplete="off"
              value={draft}
              onValue={setDraft}
              hint="An otpd_test_… key shows its app's messages; the operator token shows all. Kept in this tab only."
            />
          ) : (
            <p class="hint">
              Showing {state?.user?.role === 'operator' ? 'every app' : "your account's apps"}.
            </p>
          )}
          <Button type="submit">Show</Button>
        </form>
        <p class="small" aria-live="polite">
          <span class={`live-dot${live.state === 'live' ? ' on' : ''}`} aria-hidden="true" />
          {!canRead
            ? 'Log in, or give an API key or the operator token.'
            : live.state === 'live'
              ? 'Live: new messages appear as they arrive.'
              : (live.detail ?? 'Connecting…')}
        </p>
      </Card>
      <div class="tabs" role="tablist" aria-label="Inbox">
        <button
          type="button"
          role="tab"
          aria-selected={tab === 'messages'}
          onClick={() => setTab('messages')}
        >
          Messages
        </button>
        <button type="button" role="tab" aria-selected={tab === 'mail'} onClick={() => setTab('mail')}>
          Mail
        </button>
      </div>
      {tab === 'messages' && (
        <div role="tabpanel">
          <ErrorMessage error={load.error} />
          {canRead && !load.error && groups.length === 0 && !load.busy && (
            <p class="muted">No messages yet. Send a code and it appears here.</p>
          )}
          {groups.map(([p, list]) => (
            <Card key={p}>
              <div class="phone-group">
                <h2>{p}</h2>
                <div class="bubbles">
                  {list.map((m) => (
                    <div key={m.id} class={`bubble${fresh.has(m.id) ? ' fresh' : ''}`}>
                      <div>{m.text}</div>
                      <div class="meta">
                        {m.channel} · {m.environment} {m.sender_id ? `· from ${m.sender_id} ` : ''}·{' '}
                        <time dateTime={m.created_at}>{formatTime(m.created_at)}</time>
                      </div>
                    </div>
                  ))}
                </div>
              </div>
            </Card>
          ))}
        </div>
      )}
      {tab === 'mail' && (
        <div role="tabpanel">
          {mailError instanceof ApiError && mailError.status === 401 ? (
            <Alert kind="info">
              Mail (sign-up and password links) is for the operator: give the operator token, or log in as an
              operator.
            </Alert>
          ) : (
            <ErrorMessage error={mailError} />
          )}
          {mail && mail.length === 0 && <p class="muted">No mail yet.</p>}
          {mail && mail.length > 0 && (
            <Card>
              {mail.map((m) => (
                <article class="mail" key={m.id}>
                  <h2 class="small">
                    {m.subject} <span class="muted">to {m.to}</span>
                  </h2>
                  <p class="muted small">
                    {formatTime(m.created_at)} · {m.status}
                  </p>
                  {m.text && <MailText text={m.text} />}
                </article>
              ))}
            </Card>
          )}
        </div>
      )}
    </>
  );
}
