import { useEffect, useState } from 'preact/hooks';
import { type App, api, type Otp, type OtpExplained, type Page } from '../api';
import {
  Button,
  Card,
  ErrorMessage,
  Field,
  formatTime,
  Loading,
  PageTitle,
  Select,
  StatusBadge,
  useAction,
  useLoad,
} from '../components/ui';
import { query } from '../router';

const STATUSES = ['', 'pending', 'verified', 'expired', 'canceled', 'max_attempts', 'failed'];

/** What a timeline entry means, in words. */
function describe(entry: OtpExplained['timeline'][number]): string {
  const d = entry.detail as Record<string, string | number | null>;
  switch (entry.type) {
    case 'otp.created':
      return `Created, to go by ${d.channel ?? 'sms'}${d.country ? ` to ${d.country}` : ''}`;
    case 'otp.resent':
      return 'Resent';
    case 'message.sent':
      return `Handed to ${d.provider ?? 'the provider'} (${d.channel ?? ''})`;
    case 'message.delivered':
      return `Delivered by ${d.provider ?? 'the provider'}`;
    case 'message.failed':
      return `Delivery failed${d.error ? `: ${d.error}` : ''}`;
    case 'message.fallback':
      return `Falling back to ${d.channel ?? 'the next channel'}`;
    case 'otp.verification_failed':
      return `Wrong code; ${d.attempts_remaining} attempt(s) left`;
    case 'otp.verified':
      return 'Verified';
    case 'otp.max_attempts':
      return 'Ended: too many wrong codes';
    case 'otp.expired':
      return 'Expired';
    case 'otp.canceled':
      return 'Canceled';
    case 'otp.failed':
      return 'Ended: could not be delivered';
    case 'otp.ussd_read':
      return 'Read over USSD';
    default:
      return entry.type;
  }
}

export function ExplorerPage() {
  const apps = useLoad(() => api.get<{ items: App[] }>('/apps'));
  const [appId, setAppId] = useState(query().get('app') ?? '');
  const [phone, setPhone] = useState('');
  const [reference, setReference] = useState('');
  const [status, setStatus] = useState('');
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [page, setPage] = useState<Page<Otp> | null>(null);
  const [selected, setSelected] = useState<string | null>(query().get('otp'));

  useEffect(() => {
    if (!appId && apps.data?.items[0]) setAppId(apps.data.items[0].id);
  }, [apps.data, appId]);

  const search = useAction(async (cursor?: string) => {
    const q = new URLSearchParams();
    if (phone) q.set('phone', phone);
    if (reference) q.set('reference', reference);
    if (status) q.set('status', status);
    if (from) q.set('from', new Date(from).toISOString());
    if (to) q.set('to', new Date(to).toISOString());
    if (cursor) q.set('cursor', cursor);
    const result = await api.get<Page<Otp>>(`/apps/${appId}/otps?${q}`);
    setPage((prev) =>
      cursor && prev ? { items: [...prev.items, ...result.items], next_cursor: result.next_cursor } : result,
    );
  });
  useEffect(() => {
    if (appId) search.run();
  }, [appId]);

  if (apps.loading && !apps.data) return <Loading />;
  if (apps.data?.items.length === 0) {
    return (
      <>
        <PageTitle>OTP explorer</PageTitle>
        <p>
          No apps yet. <a href="/apps">Create one</a> and send a code.
        </p>
      </>
    );
  }
  return (
    <>
      <PageTitle sub="Every OTP with its deliveries and attempts. Never the code.">OTP explorer</PageTitle>
      <Card>
        <form
          class="filters"
          onSubmit={(e) => {
            e.preventDefault();
            search.run();
          }}
        >
          <Select
            label="App"
            value={appId}
            onValue={setAppId}
            options={(apps.data?.items ?? []).map((a) => ({
              value: a.id,
              label: `${a.name} (${a.environment})`,
            }))}
          />
          <Field label="Phone" type="tel" value={phone} onValue={setPhone} placeholder="+9779841234567" />
          <Field label="Reference" value={reference} onValue={setReference} />
          <Select
            label="Status"
            value={status}
            onValue={setStatus}
            options={STATUSES.map((s) => ({ value: s, label: s || 'any' }))}
          />
          <Field label="From" type="datetime-local" value={from} onValue={setFrom} />
          <Field label="To" type="datetime-local" value={to} onValue={setTo} />
          <Button type="submit" busy={search.busy}>
            Search
          </Button>
        </form>
        <ErrorMessage error={search.error} />
      </Card>
      <div class="split">
        <Card title="OTPs" id="otps">
          {page && page.items.length === 0 && <p class="muted">No OTPs match.</p>}
          {page && page.items.length > 0 && (
            <div class="table-wrap">
              <table class="clickable">
                <thead>
                  <tr>
                    <th scope="col">Created</th>
                    <th scope="col">Phone</th>
                    <th scope="col">Status</th>
                    <th scope="col">Attempts</th>
                    <th scope="col">Reference</th>
                  </tr>
                </thead>
                <tbody>
                  {page.items.map((o) => (
                    <tr key={o.otp_id} aria-selected={selected === o.otp_id}>
                      <td>
                        <button type="button" class="btn-link row-link" onClick={() => setSelected(o.otp_id)}>
                          {formatTime(o.created_at)}
                        </button>
                      </td>
                      <td>{o.phone}</td>
                      <td>
                        <StatusBadge status={o.status} />
                      </td>
                      <td>
                        {o.attempts}/{o.max_attempts}
                      </td>
                      <td>{o.reference ?? '—'}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {page?.next_cursor && (
            <Button kind="secondary" busy={search.busy} onClick={() => search.run(page.next_cursor!)}>
              Load more
            </Button>
          )}
        </Card>
        {selected && appId && <OtpDetail appId={appId} otpId={selected} onClose={() => setSelected(null)} />}
      </div>
    </>
  );
}

function OtpDetail({ appId, otpId, onClose }: { appId: string; otpId: string; onClose: () => void }) {
  const otp = useLoad(() => api.get<OtpExplained>(`/apps/${appId}/otps/${otpId}`), [appId, otpId]);
  return (
    <Card
      title="OTP"
      id="otp-detail"
      actions={
        <Button kind="secondary" class="btn-small" onClick={onClose}>
          Close
        </Button>
      }
    >
      {otp.loading && !otp.data && <Loading />}
      <ErrorMessage error={otp.error} />
      {otp.data && (
        <>
          <dl class="facts">
            <dt>Id</dt>
            <dd>
              <code>{otp.data.otp_id}</code>
            </dd>
            <dt>Phone</dt>
            <dd>
              {otp.data.phone} {otp.data.country ? `(${otp.data.country})` : ''}
            </dd>
            <dt>Status</dt>
            <dd>
              <StatusBadge status={otp.data.status} />
            </dd>
            <dt>Delivery</dt>
            <dd>{otp.data.delivery_status ? <StatusBadge status={otp.data.delivery_status} /> : '—'}</dd>
            <dt>Attempts</dt>
            <dd>
              {otp.data.attempts} of {otp.data.max_attempts}
            </dd>
            <dt>Sends</dt>
            <dd>{otp.data.send_count}</dd>
            <dt>Expires</dt>
            <dd>{formatTime(otp.data.expires_at)}</dd>
            <dt>Reference</dt>
            <dd>{otp.data.reference ?? '—'}</dd>
          </dl>
          <h3>Timeline</h3>
          <ol class="timeline">
            {otp.data.timeline.map((e, i) => (
              <li key={i} class={`tl-${e.type.split('.')[1]}`}>
                <time dateTime={e.created_at}>{new Date(e.created_at).toLocaleTimeString()}</time>
                <span>{describe(e)}</span>
              </li>
            ))}
          </ol>
          {otp.data.deliveries.length > 0 && (
            <>
              <h3>Deliveries</h3>
              <ul class="plain">
                {otp.data.deliveries.map((d) => (
                  <li key={d.message_id}>
                    <code>{d.message_id}</code> · {d.channel} · {d.provider ?? '—'} ·{' '}
                    <StatusBadge status={d.status} />
                    {d.error ? ` · ${d.error}` : ''}
                  </li>
                ))}
              </ul>
            </>
          )}
        </>
      )}
    </Card>
  );
}
