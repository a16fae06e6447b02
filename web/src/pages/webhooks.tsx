import { useEffect, useState } from 'preact/hooks';
import { type App, api, type Page } from '../api';
import {
  Alert,
  Button,
  Card,
  ErrorMessage,
  Field,
  formatTime,
  Loading,
  PageTitle,
  Secret,
  Select,
  StatusBadge,
  useAction,
  useLoad,
} from '../components/ui';

interface Endpoint {
  id: string;
  url: string;
  events: string[] | null;
  enabled: boolean;
  disabled_reason: string | null;
  created_at: string;
  secret?: string;
}

interface Delivery {
  id: string;
  event_id: string;
  event_type?: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
}

export function WebhooksPage() {
  const apps = useLoad(() => api.get<{ items: App[] }>('/apps'));
  const [appId, setAppId] = useState('');
  useEffect(() => {
    if (!appId && apps.data?.items[0]) setAppId(apps.data.items[0].id);
  }, [apps.data, appId]);
  const endpoints = useLoad(
    () => (appId ? api.get<Page<Endpoint>>(`/apps/${appId}/webhooks`) : Promise.resolve(undefined)),
    [appId],
  );
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState<string | null>(null);
  const create = useAction(async () => {
    const created = await api.post<Endpoint>(`/apps/${appId}/webhooks`, { url });
    setSecret(created.secret ?? null);
    setUrl('');
    endpoints.reload();
  });
  const rotate = useAction(async (e: Endpoint) => {
    if (!confirm('Rotate the secret? The old one keeps signing for 24 hours.')) return;
    setSecret((await api.post<Endpoint>(`/apps/${appId}/webhooks/${e.id}/rotate`)).secret ?? null);
  });
  const toggle = useAction(async (e: Endpoint) => {
    await api.patch(`/apps/${appId}/webhooks/${e.id}`, { enabled: !e.enabled });
    endpoints.reload();
  });
  const remove = useAction(async (e: Endpoint) => {
    if (!confirm(`Delete the endpoint ${e.url}?`)) return;
    await api.del(`/apps/${appId}/webhooks/${e.id}`);
    endpoints.reload();
  });
  if (apps.loading && !apps.data) return <Loading />;
  return (
    <>
      <PageTitle sub="Signed events (Standard Webhooks) for each app: otp.sent, otp.delivered, otp.verified, …">
        Webhooks
      </PageTitle>
      <Card>
        <Select
          label="App"
          value={appId}
          onValue={setAppId}
          options={(apps.data?.items ?? []).map((a) => ({
            value: a.id,
            label: `${a.name} (${a.environment})`,
          }))}
        />
      </Card>
      {secret && (
        <Alert kind="warning">
          <p>
            <strong>Copy the signing secret now.</strong> It is shown this once.
          </p>
          <Secret value={secret} />
          <Button kind="secondary" class="btn-small" onClick={() => setSecret(null)}>
            I have stored it
          </Button>
        </Alert>
      )}
      <Card title="Endpoints" id="endpoints">
        <ErrorMessage error={endpoints.error ?? rotate.error ?? toggle.error ?? remove.error} />
        {endpoints.data?.items.length === 0 && <p class="muted">No endpoints yet.</p>}
        {endpoints.data?.items.map((e) => (
          <article class="mail" key={e.id}>
            <h3>
              <code>{e.url}</code> <StatusBadge status={e.enabled ? 'active' : 'disabled'} />
            </h3>
            <p class="muted small">
              {e.events ? e.events.join(', ') : 'every event'} · since {formatTime(e.created_at)}
              {e.disabled_reason ? ` · ${e.disabled_reason}` : ''}
            </p>
            <div class="actions">
              <Button kind="secondary" class="btn-small" onClick={() => rotate.run(e)}>
                Rotate secret
              </Button>
              <Button kind="secondary" class="btn-small" onClick={() => toggle.run(e)}>
                {e.enabled ? 'Disable' : 'Enable'}
              </Button>
              <Button kind="danger" class="btn-small" onClick={() => remove.run(e)}>
                Delete
              </Button>
            </div>
            <Deliveries appId={appId} endpointId={e.id} />
          </article>
        ))}
        <form
          class="inline-form"
          onSubmit={(ev) => {
            ev.preventDefault();
            create.run();
          }}
        >
          <ErrorMessage error={create.error} />
          <Field
            label="Endpoint URL"
            type="url"
            value={url}
            onValue={setUrl}
            placeholder="https://example.com/otpd"
            required
          />
          <span />
          <Button type="submit" busy={create.busy} disabled={!appId}>
            Add endpoint
          </Button>
        </form>
      </Card>
    </>
  );
}

function Deliveries({ appId, endpointId }: { appId: string; endpointId: string }) {
  const list = useLoad(
    () => api.get<Page<Delivery>>(`/apps/${appId}/webhooks/${endpointId}/deliveries?limit=10`),
    [appId, endpointId],
  );
  const replay = useAction(async (d: Delivery) => {
    await api.post(`/apps/${appId}/webhooks/${endpointId}/deliveries/${d.id}/replay`);
    list.reload();
  });
  if (!list.data?.items.length) return null;
  return (
    <details>
      <summary>Recent deliveries</summary>
      <ErrorMessage error={replay.error} />
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Event</th>
              <th scope="col">Status</th>
              <th scope="col">HTTP</th>
              <th scope="col">Attempts</th>
              <th scope="col">
                <span class="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {list.data.items.map((d) => (
              <tr key={d.id}>
                <td>{formatTime(d.created_at)}</td>
                <td>
                  <code>{d.event_type ?? d.event_id}</code>
                </td>
                <td>
                  <StatusBadge status={d.status} />
                </td>
                <td>{d.last_status_code ?? (d.last_error ? '—' : '')}</td>
                <td>{d.attempts}</td>
                <td>
                  {(d.status === 'failed' || d.status === 'succeeded') && (
                    <Button kind="secondary" class="btn-small" onClick={() => replay.run(d)}>
                      Replay
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </details>
  );
}
