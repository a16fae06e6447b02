import { useState } from 'preact/hooks';
import { type Account, type ApiKey, type App, api, type LiveRequest } from '../api';
import {
  Alert,
  Button,
  Card,
  ErrorMessage,
  Field,
  fieldError,
  formatDuration,
  formatTime,
  Loading,
  PageTitle,
  Secret,
  Select,
  StatusBadge,
  useAction,
  useLoad,
} from '../components/ui';
import { navigate } from '../router';

const CHANNELS = ['sms', 'whatsapp', 'voice', 'rcs'];
const CODE_SPECS = {
  numeric: { min: 4, max: 8, default: 6, example: '482913' },
  alphanumeric: { min: 6, max: 12, default: 8, example: 'K7QM2XPA' },
  alphabetic: { min: 5, max: 10, default: 6, example: 'QWHKTR' },
} as const;
const DEFAULT_LIMITS: Record<string, { max: number; window: number; what: string }> = {
  phone_hour: { max: 5, window: 3600, what: 'sends per phone number' },
  phone_day: { max: 10, window: 86400, what: 'sends per phone number' },
  key_minute: { max: 100, window: 60, what: 'sends per API key' },
  key_day: { max: 10000, window: 86400, what: 'sends per API key' },
  ip_hour: { max: 10, window: 3600, what: "sends per end user's IP (when the send carries ip)" },
  sms_phone_template_hour: { max: 3, window: 3600, what: 'transactional SMS per template and phone' },
  sms_key_day: { max: 1000, window: 86400, what: 'transactional SMS per API key' },
};

export function AppsPage() {
  const apps = useLoad(() => api.get<{ items: App[] }>('/apps'));
  const account = useLoad(() => api.get<{ live_mode: LiveRequest | null; account: Account }>('/account'));
  const [name, setName] = useState('');
  const [environment, setEnvironment] = useState('sandbox');
  const liveApproved = account.data?.live_mode?.status === 'approved';
  const create = useAction(async () => {
    const app = await api.post<App>('/apps', { name, environment });
    navigate(`/apps/${app.id}`);
  });
  return (
    <>
      <PageTitle sub="Each app has its own OTP policy and up to 3 active API keys.">
        Apps &amp; API keys
      </PageTitle>
      <Card title="Your apps" id="apps">
        {apps.loading && <Loading />}
        <ErrorMessage error={apps.error} />
        {apps.data && apps.data.items.length === 0 && (
          <p class="muted">No apps yet: create your first below.</p>
        )}
        {apps.data && apps.data.items.length > 0 && (
          <ul class="list">
            {apps.data.items.map((app) => (
              <li key={app.id}>
                <a href={`/apps/${app.id}`} class="list-main">
                  {app.name}
                </a>
                <StatusBadge status={app.environment} />
                <span class="muted small">
                  {app.code_length}-{app.code_type === 'numeric' ? 'digit' : 'character'} codes,{' '}
                  {formatDuration(app.expiry)}, {app.max_attempts} attempts
                </span>
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Card title="Create an app" id="create-app">
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            create.run();
          }}
        >
          <ErrorMessage error={create.error} />
          <Field label="Name" value={name} onValue={setName} required maxLength={100} placeholder="My shop" />
          <Select
            label="Environment"
            value={environment}
            onValue={setEnvironment}
            options={[
              { value: 'sandbox', label: 'Sandbox (code 123456, nothing leaves this machine, free)' },
              {
                value: 'live',
                label: liveApproved ? 'Live' : 'Live (request live mode first)',
                disabled: !liveApproved,
              },
            ]}
          />
          <Button type="submit" busy={create.busy}>
            Create app
          </Button>
        </form>
      </Card>
    </>
  );
}

/** Form state of the policy: numbers and lists as the inputs hold them. */
type Draft = Record<string, string | boolean | string[]>;

const toDraft = (app: App): Draft => ({
  name: app.name,
  environment: app.environment,
  code_type: app.code_type,
  code_length: String(app.code_length),
  expiry: String(app.expiry),
  max_attempts: String(app.max_attempts),
  resend_cooldown: String(app.resend_cooldown),
  channels: app.channels,
  default_channel: app.default_channel,
  default_country: app.default_country ?? '',
  sender_id: app.sender_id ?? '',
  message: app.message,
  allowed_countries: (app.allowed_countries ?? []).join(', '),
  allow_custom_code: app.allow_custom_code,
  fallback_channels: (app.fallback_channels ?? []).join(', '),
  fallback_after: String(app.fallback_after),
  ...Object.fromEntries(
    Object.keys(DEFAULT_LIMITS).flatMap((scope) => [
      [`limit.${scope}.max`, app.limits[scope] ? String(app.limits[scope]!.max) : ''],
      [`limit.${scope}.window`, app.limits[scope] ? String(app.limits[scope]!.window) : ''],
    ]),
  ),
});

const list = (text: string) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

function fromDraft(d: Draft) {
  const limits: Record<string, { max: number; window: number } | null> = {};
  for (const scope of Object.keys(DEFAULT_LIMITS)) {
    const max = d[`limit.${scope}.max`] as string;
    const window = d[`limit.${scope}.window`] as string;
    limits[scope] =
      max || window
        ? {
            max: Number(max || DEFAULT_LIMITS[scope]!.max),
            window: Number(window || DEFAULT_LIMITS[scope]!.window),
          }
        : null;
  }
  const countries = list(d.allowed_countries as string).map((c) => c.toUpperCase());
  return {
    name: d.name,
    code_type: d.code_type,
    code_length: Number(d.code_length),
    expiry: Number(d.expiry),
    max_attempts: Number(d.max_attempts),
    resend_cooldown: Number(d.resend_cooldown),
    channels: d.channels,
    default_channel: d.default_channel,
    default_country: (d.default_country as string).trim().toUpperCase() || null,
    sender_id: (d.sender_id as string).trim() || null,
    message: d.message,
    allowed_countries: countries.length ? countries : null,
    allow_custom_code: d.allow_custom_code,
    fallback_channels: list(d.fallback_channels as string),
    fallback_after: Number(d.fallback_after),
    limits,
  };
}

export function AppDetailPage({ id }: { id: string }) {
  const app = useLoad(() => api.get<App>(`/apps/${id}`), [id]);
  if (app.loading && !app.data) return <Loading />;
  if (!app.data) {
    return (
      <>
        <PageTitle>App not found</PageTitle>
        <ErrorMessage error={app.error} />
        <p>
          No app <code>{id}</code> in your account. <a href="/apps">All apps</a>
        </p>
      </>
    );
  }
  return (
    <>
      <PageTitle sub={<code>{app.data.id}</code>}>
        {app.data.name} <StatusBadge status={app.data.environment} />
      </PageTitle>
      <Keys app={app.data} />
      <Policy app={app.data} onSaved={(a) => app.setData(a)} />
    </>
  );
}

function Keys({ app }: { app: App }) {
  const keys = useLoad(() => api.get<{ items: ApiKey[] }>(`/apps/${app.id}/keys`), [app.id, app.environment]);
  const [created, setCreated] = useState<ApiKey | null>(null);
  const create = useAction(async () => {
    const key = await api.post<ApiKey>(`/apps/${app.id}/keys`);
    setCreated(key);
    keys.reload();
  });
  const revoke = useAction(async (key: ApiKey) => {
    if (!confirm(`Revoke ${key.display}? Requests with it fail at once.`)) return;
    await api.del(`/keys/${key.id}`);
    keys.reload();
  });
  const active = keys.data?.items.filter((k) => !k.revoked_at) ?? [];
  return (
    <Card
      title="API keys"
      id="keys"
      actions={
        <Button onClick={() => create.run()} busy={create.busy} disabled={active.length >= 3}>
          Create key
        </Button>
      }
    >
      <p class="muted small">
        Up to 3 active keys per app, so you can rotate: create a new key, deploy it, revoke the old one. A key
        works only for this app's environment ({app.environment}).
      </p>
      <ErrorMessage error={create.error ?? revoke.error} />
      {created?.secret && (
        <Alert kind="warning">
          <p>
            <strong>Copy your new key now.</strong> It is shown this once; otpd keeps only a hash.
          </p>
          <Secret value={created.secret} />
          <div class="actions">
            <Button kind="secondary" onClick={() => setCreated(null)}>
              I have stored it
            </Button>
          </div>
        </Alert>
      )}
      {keys.loading && !keys.data && <Loading />}
      {keys.data && keys.data.items.length === 0 && <p class="muted">No keys yet.</p>}
      {keys.data && keys.data.items.length > 0 && (
        <div class="table-wrap">
          <table>
            <caption class="visually-hidden">API keys of {app.name}</caption>
            <thead>
              <tr>
                <th scope="col">Key</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {keys.data.items.map((k) => (
                <tr key={k.id}>
                  <td>
                    <code>{k.display}</code>
                  </td>
                  <td>{formatTime(k.created_at)}</td>
                  <td>{formatTime(k.last_used_at)}</td>
                  <td>{k.revoked_at ? <StatusBadge status="revoked" /> : <StatusBadge status="active" />}</td>
                  <td>
                    {!k.revoked_at && (
                      <Button
                        kind="danger"
                        class="btn-small"
                        onClick={() => revoke.run(k)}
                        aria-label={`Revoke ${k.display}`}
                      >
                        Revoke
                      </Button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

function Policy({ app, onSaved }: { app: App; onSaved: (app: App) => void }) {
  const [draft, setDraft] = useState<Draft>(toDraft(app));
  const [saved, setSaved] = useState(false);
  const set = (key: string) => (value: string | boolean | string[]) => {
    setSaved(false);
    setDraft((d) => ({ ...d, [key]: value }));
  };
  const save = useAction(async () => {
    const updated = await api.patch<App>(`/apps/${app.id}`, fromDraft(draft));
    onSaved(updated);
    setDraft(toDraft(updated));
    setSaved(true);
  });
  const goLive = useAction(async (environment: 'live' | 'sandbox') => {
    const msg =
      environment === 'live'
        ? 'Switch to live? Its test keys stop working; create a live key afterwards.'
        : 'Switch back to sandbox? Its live keys stop working.';
    if (!confirm(msg)) return;
    const updated = await api.patch<App>(`/apps/${app.id}`, { environment });
    onSaved(updated);
    setDraft(toDraft(updated));
  });
  const spec = CODE_SPECS[draft.code_type as keyof typeof CODE_SPECS];
  const err = (field: string) => fieldError(save.error, field);
  const text = (key: string) => draft[key] as string;
  const channels = draft.channels as string[];

  return (
    <Card title="OTP policy" id="policy">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          save.run();
        }}
      >
        <ErrorMessage error={save.error} />
        {saved && <Alert kind="success">Saved. New sends use it at once.</Alert>}
        <div class="grid">
          <Field
            label="Name"
            value={text('name')}
            onValue={set('name')}
            maxLength={100}
            required
            error={err('name')}
          />
          <Select
            label="Code type"
            value={text('code_type')}
            onValue={(v) => {
              set('code_type')(v);
              set('code_length')(String(CODE_SPECS[v as keyof typeof CODE_SPECS].default));
            }}
            options={Object.keys(CODE_SPECS).map((t) => ({ value: t, label: t }))}
            hint={`For example ${spec.example}. Letters are uppercase, without look-alikes (0/O, 1/I).`}
          />
          <Field
            label="Code length"
            type="number"
            min={spec.min}
            max={spec.max}
            value={text('code_length')}
            onValue={set('code_length')}
            hint={`${spec.min}–${spec.max} for ${draft.code_type} codes.`}
            error={err('code_length')}
          />
          <Field
            label="Expiry (seconds)"
            type="number"
            min={60}
            max={86400}
            value={text('expiry')}
            onValue={set('expiry')}
            hint={`60–86400. Now ${formatDuration(Number(draft.expiry) || 0)}.`}
            error={err('expiry')}
          />
          <Field
            label="Verification attempts"
            type="number"
            min={1}
            max={10}
            value={text('max_attempts')}
            onValue={set('max_attempts')}
            hint="1–10 wrong codes before the OTP ends. A resend never resets the count."
            error={err('max_attempts')}
          />
          <Field
            label="Resend cooldown (seconds)"
            type="number"
            min={0}
            max={3600}
            value={text('resend_cooldown')}
            onValue={set('resend_cooldown')}
            hint="0–3600 between sends of one OTP."
            error={err('resend_cooldown')}
          />
        </div>
        <fieldset>
          <legend>Channels</legend>
          <div class="checks">
            {CHANNELS.map((c) => (
              <div class="check" key={c}>
                <input
                  id={`channel-${c}`}
                  type="checkbox"
                  checked={channels.includes(c)}
                  onChange={(e) =>
                    set('channels')(
                      (e.currentTarget as HTMLInputElement).checked
                        ? [...channels, c]
                        : channels.filter((x) => x !== c),
                    )
                  }
                />
                <label for={`channel-${c}`}>{c}</label>
              </div>
            ))}
          </div>
          {err('channels') && <p class="field-error">{err('channels')}</p>}
        </fieldset>
        <div class="grid">
          <Select
            label="Default channel"
            value={text('default_channel')}
            onValue={set('default_channel')}
            options={channels.map((c) => ({ value: c, label: c }))}
            hint="Used when a send names no channel."
          />
          <Field
            label="Fallback channels"
            value={text('fallback_channels')}
            onValue={set('fallback_channels')}
            placeholder="whatsapp, voice"
            hint="Tried in order when a message fails or stays undelivered (up to 4)."
            error={err('fallback_channels')}
          />
          <Field
            label="Fallback after (seconds)"
            type="number"
            min={0}
            max={3600}
            value={text('fallback_after')}
            onValue={set('fallback_after')}
            hint="0–3600 undelivered before the next channel; 0 = only on failure."
            error={err('fallback_after')}
          />
          <Field
            label="Default country"
            value={text('default_country')}
            onValue={set('default_country')}
            maxLength={2}
            placeholder="NP"
            hint="Two letters (ISO 3166); lets callers send national numbers (9841234567)."
            error={err('default_country')}
          />
          <Field
            label="Allowed countries"
            value={text('allowed_countries')}
            onValue={set('allowed_countries')}
            placeholder="NP, IN"
            hint="Empty = every country. Others get 403 COUNTRY_NOT_ALLOWED."
            error={err('allowed_countries')}
          />
          <Field
            label="Sender ID"
            value={text('sender_id')}
            onValue={set('sender_id')}
            maxLength={20}
            hint="1–20 characters, where the provider supports it."
            error={err('sender_id')}
          />
        </div>
        <div class="field">
          <label for="message">Message template</label>
          <textarea
            id="message"
            rows={2}
            minLength={6}
            maxLength={640}
            value={text('message')}
            aria-describedby="message-hint"
            onInput={(e) => set('message')((e.currentTarget as HTMLTextAreaElement).value)}
          />
          <p class="hint" id="message-hint">
            6–640 characters with <code>{'{code}'}</code> (required), <code>{'{minutes}'}</code> and{' '}
            <code>{'{app}'}</code>.
          </p>
          {err('message') && <p class="field-error">{err('message')}</p>}
        </div>
        <div class="check">
          <input
            id="custom-code"
            type="checkbox"
            checked={draft.allow_custom_code as boolean}
            onChange={(e) => set('allow_custom_code')((e.currentTarget as HTMLInputElement).checked)}
          />
          <label for="custom-code">Let callers send their own code (allow_custom_code)</label>
        </div>
        <details>
          <summary>Limits (empty = the default)</summary>
          <div class="table-wrap">
            <table class="limits">
              <thead>
                <tr>
                  <th scope="col">Scope</th>
                  <th scope="col">Max</th>
                  <th scope="col">Window (s)</th>
                </tr>
              </thead>
              <tbody>
                {Object.entries(DEFAULT_LIMITS).map(([scope, d]) => (
                  <tr key={scope}>
                    <th scope="row">
                      <code>{scope}</code>
                      <div class="muted small">
                        {d.what}; default {d.max} per {formatDuration(d.window)}
                      </div>
                    </th>
                    <td>
                      <input
                        aria-label={`${scope} max`}
                        type="number"
                        min={1}
                        max={1000000}
                        placeholder={String(d.max)}
                        value={text(`limit.${scope}.max`)}
                        onInput={(e) =>
                          set(`limit.${scope}.max`)((e.currentTarget as HTMLInputElement).value)
                        }
                      />
                    </td>
                    <td>
                      <input
                        aria-label={`${scope} window in seconds`}
                        type="number"
                        min={1}
                        max={604800}
                        placeholder={String(d.window)}
                        value={text(`limit.${scope}.window`)}
                        onInput={(e) =>
                          set(`limit.${scope}.window`)((e.currentTarget as HTMLInputElement).value)
                        }
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </details>
        <div class="actions">
          <Button type="submit" busy={save.busy}>
            Save policy
          </Button>
        </div>
      </form>
      <hr />
      <div class="actions">
        <ErrorMessage error={goLive.error} />
        {app.environment === 'sandbox' ? (
          <Button kind="secondary" busy={goLive.busy} onClick={() => goLive.run('live')}>
            Switch to live
          </Button>
        ) : (
          <Button kind="secondary" busy={goLive.busy} onClick={() => goLive.run('sandbox')}>
            Switch to sandbox
          </Button>
        )}
        <span class="muted small">Live mode needs an approved request (Settings → Live mode).</span>
      </div>
    </Card>
  );
}
