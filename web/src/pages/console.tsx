import { useState } from 'preact/hooks';
import { type Account, api, type LiveRequest, type Page } from '../api';
import {
  Alert,
  Button,
  Card,
  ErrorMessage,
  Field,
  formatDuration,
  formatMoney,
  formatTime,
  Loading,
  PageTitle,
  StatusBadge,
  useAction,
  useLoad,
} from '../components/ui';

interface Overview {
  accounts: number;
  pending_live_requests: number;
  pending_templates: number;
  outbox_depth: number;
  oldest_due_seconds: number;
  last_hour: { messages: number; by_status: Record<string, number>; error_rate: number | null };
  routes: number;
  providers: { name: string; type: string; channels: string[]; ok: boolean; detail: string | null }[];
}

interface ReviewTemplate {
  id: string;
  account_id: string;
  name: string;
  body: string;
  use_case: string;
  status: string;
  created_at: string;
}

export function ConsolePage() {
  const overview = useLoad(() => api.get<Overview>('/console/overview'));
  const o = overview.data;
  return (
    <>
      <PageTitle sub="What waits for you, and how delivery is doing.">Console</PageTitle>
      <ErrorMessage error={overview.error} />
      {!o && overview.loading && <Loading />}
      {o && (
        <>
          <div class="stats">
            <Stat label="Accounts" value={o.accounts} />
            <Stat label="Live-mode requests" value={o.pending_live_requests} href="#live-requests" />
            <Stat label="Templates to review" value={o.pending_templates} href="#templates" />
            <Stat
              label="Outbox"
              value={o.outbox_depth}
              sub={`oldest due ${formatDuration(Math.round(o.oldest_due_seconds))}`}
            />
            <Stat
              label="Errors, last hour"
              value={o.last_hour.error_rate === null ? '—' : `${(o.last_hour.error_rate * 100).toFixed(1)} %`}
              sub={`${o.last_hour.messages} messages`}
            />
          </div>
          <Card
            title="Providers"
            id="providers"
            actions={
              <Button kind="secondary" class="btn-small" onClick={overview.reload}>
                Refresh
              </Button>
            }
          >
            {o.routes === 0 && (
              <p class="muted">No routes configured: every message goes to the inbox provider.</p>
            )}
            <ul class="list">
              {o.providers.map((p) => (
                <li key={p.name}>
                  <span class="list-main">{p.name}</span>
                  <span class="muted small">
                    {p.type} · {p.channels.join(', ')}
                  </span>
                  <StatusBadge status={p.ok ? 'active' : 'failed'} />
                  {p.detail && <span class="small">{p.detail}</span>}
                </li>
              ))}
            </ul>
          </Card>
        </>
      )}
      <LiveRequests onChange={overview.reload} />
      <TemplateReview onChange={overview.reload} />
      <Accounts />
    </>
  );
}

function Stat(props: { label: string; value: string | number; sub?: string; href?: string }) {
  return (
    <div class="stat">
      <span class="stat-label">{props.label}</span>
      <span class="stat-value">
        {props.href && props.value ? <a href={props.href}>{props.value}</a> : props.value}
      </span>
      {props.sub && <span class="muted small">{props.sub}</span>}
    </div>
  );
}

function LiveRequests({ onChange }: { onChange: () => void }) {
  const list = useLoad(() => api.get<Page<LiveRequest>>('/console/live-requests?status=pending'));
  const decide = useAction(async (id: string, approve: boolean) => {
    if (approve) await api.post(`/console/live-requests/${id}/approve`);
    else {
      const note = prompt('Why? The tenant sees this note.');
      if (!note) return;
      await api.post(`/console/live-requests/${id}/reject`, { note });
    }
    list.reload();
    onChange();
  });
  return (
    <Card title="Live-mode requests" id="live-requests">
      <ErrorMessage error={list.error ?? decide.error} />
      {list.data?.items.length === 0 && <p class="muted">Nothing waits.</p>}
      <ul class="list">
        {list.data?.items.map((r) => (
          <li key={r.id}>
            <div style={{ flex: 1, minWidth: 0 }}>
              <div>
                <code>{r.account_id}</code> · {r.expected_volume} · {formatTime(r.created_at)}
              </div>
              <div class="muted">{r.use_case}</div>
            </div>
            <Button class="btn-small" onClick={() => decide.run(r.id, true)}>
              Approve
            </Button>
            <Button class="btn-small" kind="danger" onClick={() => decide.run(r.id, false)}>
              Reject
            </Button>
          </li>
        ))}
      </ul>
    </Card>
  );
}

function TemplateReview({ onChange }: { onChange: () => void }) {
  const list = useLoad(() => api.get<Page<ReviewTemplate>>('/console/templates?status=pending'));
  const [reasons, setReasons] = useState<Record<string, string>>({});
  const decide = useAction(async (id: string, approve: boolean) => {
    if (approve) await api.post(`/console/templates/${id}/approve`);
    else await api.post(`/console/templates/${id}/reject`, { reason: reasons[id] ?? '' });
    list.reload();
    onChange();
  });
  return (
    <Card title="Templates to review" id="templates">
      <ErrorMessage error={list.error ?? decide.error} />
      {list.data?.items.length === 0 && <p class="muted">Nothing waits.</p>}
      {list.data?.items.map((t) => (
        <article class="mail" key={t.id}>
          <h3>
            {t.name} <span class="muted small">· {t.use_case}</span>
          </h3>
          <pre>{t.body}</pre>
          <p class="muted small">
            <code>{t.account_id}</code> · {formatTime(t.created_at)}
          </p>
          <div class="actions">
            <Button class="btn-small" onClick={() => decide.run(t.id, true)} aria-label={`Approve ${t.name}`}>
              Approve
            </Button>
            <input
              aria-label={`Reason to reject ${t.name}`}
              placeholder="Reason (shown to the tenant)"
              value={reasons[t.id] ?? ''}
              onInput={(e) => setReasons({ ...reasons, [t.id]: (e.currentTarget as HTMLInputElement).value })}
              style={{ maxWidth: '22rem' }}
            />
            <Button
              class="btn-small"
              kind="danger"
              onClick={() => decide.run(t.id, false)}
              aria-label={`Reject ${t.name}`}
            >
              Reject
            </Button>
          </div>
        </article>
      ))}
    </Card>
  );
}

function Accounts() {
  const accounts = useLoad(() => api.get<Page<Account>>('/console/accounts?limit=100'));
  const [topUpFor, setTopUpFor] = useState<Account | null>(null);
  const [amount, setAmount] = useState('');
  const [reference, setReference] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const topUp = useAction(async () => {
    const micro = Math.round(Number(amount) * 1_000_000);
    await api.post(`/console/accounts/${topUpFor!.id}/topups`, { amount: micro, reference });
    setDone(`${formatMoney(micro, topUpFor!.currency)} added to ${topUpFor!.name}.`);
    setTopUpFor(null);
    setAmount('');
    setReference('');
    accounts.reload();
  });
  return (
    <Card title="Accounts" id="accounts">
      <ErrorMessage error={accounts.error} />
      {done && <Alert kind="success">{done}</Alert>}
      {topUpFor && (
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            topUp.run();
          }}
        >
          <ErrorMessage error={topUp.error} />
          <Field
            label={`Top up ${topUpFor.name} (${topUpFor.currency})`}
            type="number"
            min="0.000001"
            step="any"
            value={amount}
            onValue={setAmount}
            required
          />
          <Field
            label="Payment reference"
            value={reference}
            onValue={setReference}
            hint="Once per reference: a retry never credits twice."
            required
          />
          <Button type="submit" busy={topUp.busy}>
            Add funds
          </Button>
        </form>
      )}
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">Email</th>
              <th scope="col">Balance</th>
              <th scope="col">Created</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {accounts.data?.items.map((a) => (
              <tr key={a.id}>
                <td>
                  {a.name}
                  <div class="muted small">
                    <code>{a.id}</code>
                  </div>
                </td>
                <td>{a.email ?? '—'}</td>
                <td>{formatMoney(a.balance, a.currency)}</td>
                <td>{formatTime(a.created_at)}</td>
                <td>
                  <Button
                    kind="secondary"
                    class="btn-small"
                    onClick={() => {
                      setDone(null);
                      setTopUpFor(a);
                    }}
                    aria-label={`Top up ${a.name}`}
                  >
                    Top up
                  </Button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </Card>
  );
}
