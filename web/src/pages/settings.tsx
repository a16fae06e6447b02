import { useState } from 'preact/hooks';
import { api, type LiveRequest } from '../api';
import {
  Alert,
  Button,
  Card,
  CopyButton,
  ErrorMessage,
  Field,
  fieldError,
  formatTime,
  PageTitle,
  Secret,
  StatusBadge,
  useAction,
  useLoad,
} from '../components/ui';
import { useSession } from '../session';

export function SettingsPage() {
  const { state } = useSession();
  return (
    <>
      <PageTitle sub={state?.user?.email}>Settings</PageTitle>
      <TwoFactor />
      <PasswordChange />
      {state?.user?.role === 'tenant' && <LiveMode />}
    </>
  );
}

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  const text = codes.join('\n');
  return (
    <Alert kind="warning">
      <p>
        <strong>Save these recovery codes now.</strong> Each logs you in once if you lose your phone; they are
        shown this once.
      </p>
      <ul class="codes" aria-label="Recovery codes">
        {codes.map((c) => (
          <li key={c}>
            <code>{c}</code>
          </li>
        ))}
      </ul>
      <div class="actions">
        <CopyButton text={text} label="Copy all" />
        <a
          class="btn btn-secondary btn-small"
          download="otpd-recovery-codes.txt"
          href={`data:text/plain;charset=utf-8,${encodeURIComponent(`${text}\n`)}`}
        >
          Download
        </a>
        <Button kind="secondary" class="btn-small" onClick={onDone}>
          I have saved them
        </Button>
      </div>
    </Alert>
  );
}

function TwoFactor() {
  const { refresh } = useSession();
  const status = useLoad(() => api.get<{ enabled: boolean; recovery_codes_left: number }>('/two-factor'));
  const [setup, setSetup] = useState<{ secret: string; otpauth_url: string } | null>(null);
  const [code, setCode] = useState('');
  const [password, setPassword] = useState('');
  const [codes, setCodes] = useState<string[] | null>(null);
  const begin = useAction(async () => setSetup(await api.post('/two-factor/setup')));
  const enable = useAction(async () => {
    const r = await api.post<{ recovery_codes: string[] }>('/two-factor/enable', {
      code: code.replace(/\s/g, ''),
    });
    setCodes(r.recovery_codes);
    setSetup(null);
    setCode('');
    status.reload();
    await refresh();
  });
  const disable = useAction(async () => {
    const factor = /^\d{6}$/.test(code.replace(/\s/g, ''))
      ? { code: code.replace(/\s/g, '') }
      : { recovery_code: code };
    await api.post('/two-factor/disable', { password, ...factor });
    setPassword('');
    setCode('');
    status.reload();
    await refresh();
  });
  const regenerate = useAction(async () => {
    const factor = /^\d{6}$/.test(code.replace(/\s/g, ''))
      ? { code: code.replace(/\s/g, '') }
      : { recovery_code: code };
    const r = await api.post<{ recovery_codes: string[] }>('/two-factor/recovery-codes', factor);
    setCodes(r.recovery_codes);
    setCode('');
    status.reload();
  });

  return (
    <Card title="Two-factor login" id="two-factor">
      {codes && <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />}
      {status.data && !status.data.enabled && !setup && (
        <>
          <p>
            Ask for a code from an authenticator app (Google Authenticator, 1Password, Aegis…) at every login,
            on top of your password.
          </p>
          <ErrorMessage error={begin.error} />
          <Button busy={begin.busy} onClick={() => begin.run()}>
            Turn on two-factor login
          </Button>
        </>
      )}
      {setup && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            enable.run();
          }}
        >
          <ol class="steps">
            <li>
              In your authenticator app, add an account with this key (or open the link on your phone):
              <Secret value={setup.secret} />
              <p class="small">
                <a href={setup.otpauth_url}>Open in an authenticator app</a>
              </p>
            </li>
            <li>Type the 6-digit code it shows.</li>
          </ol>
          <ErrorMessage error={enable.error} />
          <Field
            label="Code"
            inputMode="numeric"
            autoComplete="one-time-code"
            maxLength={7}
            value={code}
            onValue={setCode}
            required
          />
          <div class="actions">
            <Button type="submit" busy={enable.busy}>
              Confirm and turn on
            </Button>
            <Button kind="link" onClick={() => setSetup(null)}>
              Cancel
            </Button>
          </div>
        </form>
      )}
      {status.data?.enabled && (
        <>
          <Alert kind="success">
            Two-factor login is on. {status.data.recovery_codes_left} recovery code(s) left.
          </Alert>
          <form
            onSubmit={(e) => {
              e.preventDefault();
            }}
          >
            <Field
              label="Code from your app, or a recovery code"
              autoComplete="one-time-code"
              value={code}
              onValue={setCode}
            />
            <ErrorMessage error={regenerate.error ?? disable.error} />
            <div class="actions">
              <Button kind="secondary" busy={regenerate.busy} onClick={() => regenerate.run()}>
                New recovery codes
              </Button>
            </div>
            <Field
              label="Password (to turn it off)"
              type="password"
              autoComplete="current-password"
              value={password}
              onValue={setPassword}
            />
            <div class="actions">
              <Button kind="danger" busy={disable.busy} onClick={() => disable.run()}>
                Turn off two-factor login
              </Button>
            </div>
          </form>
        </>
      )}
    </Card>
  );
}

function PasswordChange() {
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [done, setDone] = useState(false);
  const change = useAction(async () => {
    await api.post('/password/change', { current_password: current, new_password: next });
    setDone(true);
    setCurrent('');
    setNext('');
  });
  return (
    <Card title="Password" id="password">
      <form
        onSubmit={(e) => {
          e.preventDefault();
          change.run();
        }}
      >
        {done && <Alert kind="success">Password changed; your other sessions were logged out.</Alert>}
        <ErrorMessage error={change.error} />
        <Field
          label="Current password"
          type="password"
          autoComplete="current-password"
          value={current}
          onValue={setCurrent}
          required
        />
        <Field
          label="New password"
          type="password"
          autoComplete="new-password"
          minLength={10}
          value={next}
          onValue={setNext}
          error={fieldError(change.error, 'new_password')}
          hint="At least 10 characters."
          required
        />
        <Button type="submit" busy={change.busy}>
          Change password
        </Button>
      </form>
    </Card>
  );
}

function LiveMode() {
  const live = useLoad(() => api.get<LiveRequest | null>('/live-mode'));
  const [useCase, setUseCase] = useState('');
  const [volume, setVolume] = useState('');
  const ask = useAction(async () => {
    live.setData(await api.post<LiveRequest>('/live-mode', { use_case: useCase, expected_volume: volume }));
  });
  const current = live.data;
  return (
    <Card title="Live mode" id="live-mode">
      <p class="muted">
        Sandbox apps are free and never leave this machine. Live apps send real messages and are charged to
        your balance; an operator approves live mode once per account.
      </p>
      {current && (
        <p>
          Your request of {formatTime(current.created_at)} is <StatusBadge status={current.status} />
          {current.review_note ? ` — “${current.review_note}”` : ''}
        </p>
      )}
      {(!current || current.status === 'rejected') && (
        <form
          onSubmit={(e) => {
            e.preventDefault();
            ask.run();
          }}
        >
          <ErrorMessage error={ask.error} />
          <div class="field">
            <label for="use-case">What will you verify?</label>
            <textarea
              id="use-case"
              rows={3}
              minLength={10}
              maxLength={1000}
              required
              value={useCase}
              aria-describedby="use-case-hint"
              onInput={(e) => setUseCase((e.currentTarget as HTMLTextAreaElement).value)}
            />
            <p class="hint" id="use-case-hint">
              Your product and where the codes are used (sign-up, login, payments…).
            </p>
          </div>
          <Field
            label="Expected volume"
            value={volume}
            onValue={setVolume}
            placeholder="2,000 OTPs a day"
            required
          />
          <Button type="submit" busy={ask.busy}>
            Request live mode
          </Button>
        </form>
      )}
    </Card>
  );
}
