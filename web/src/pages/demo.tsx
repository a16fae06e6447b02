import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, type App, api, type InboxMessage, type Otp } from '../api';
import {
  Button,
  Card,
  ErrorMessage,
  Field,
  Loading,
  PageTitle,
  Select,
  useAction,
  useLoad,
} from '../components/ui';
import { followInbox, inboxIdAt } from '../stream';

/** Seconds until an ISO time, never below 0; ticking once a second. */
function useSecondsUntil(iso: string | null | undefined): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);
  return iso ? Math.max(0, Math.ceil((Date.parse(iso) - now) / 1000)) : 0;
}

const mmss = (s: number) => `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;

type Verdict = { verified: true } | { verified: false; message: string; code: string; remaining?: number };

export function DemoPage() {
  const apps = useLoad(() => api.get<{ items: App[] }>('/apps'));
  const sandbox = (apps.data?.items ?? []).filter((a) => a.environment === 'sandbox');
  const [appId, setAppId] = useState('');
  const [phone, setPhone] = useState('+9779841234567');
  const [otp, setOtp] = useState<Otp | null>(null);
  const [code, setCode] = useState('');
  const [verdict, setVerdict] = useState<Verdict | null>(null);
  const [sms, setSms] = useState<InboxMessage[]>([]);
  const codeInput = useRef<HTMLInputElement>(null);
  const expiresIn = useSecondsUntil(otp?.expires_at);
  const resendIn = useSecondsUntil(otp?.resend_available_at);

  useEffect(() => {
    if (!appId && sandbox[0]) setAppId(sandbox[0].id);
  }, [sandbox, appId]);

  // The drawn phone shows what the inbox received for this number since the code was asked for.
  useEffect(() => {
    if (!otp) return;
    return followInbox({
      phone: otp.phone,
      after: inboxIdAt(Date.parse(otp.created_at) - 1000),
      onMessage: (m) => setSms((prev) => (prev.some((p) => p.id === m.id) ? prev : [...prev, m])),
      onState: () => {},
    });
  }, [otp?.otp_id]);

  const createApp = useAction(async () => {
    const app = await api.post<App>('/apps', { name: 'Demo (sandbox)', environment: 'sandbox' });
    apps.reload();
    setAppId(app.id);
  });
  const send = useAction(async () => {
    setVerdict(null);
    setSms([]);
    setCode('');
    const sent = await api.post<Otp>('/demo/send', { app_id: appId, phone });
    setOtp(sent);
    setTimeout(() => codeInput.current?.focus(), 0);
  });
  const resend = useAction(async () => {
    setOtp(await api.post<Otp>('/demo/resend', { app_id: appId, otp_id: otp!.otp_id }));
  });
  const verify = useAction(async () => {
    try {
      await api.post('/demo/verify', { app_id: appId, otp_id: otp!.otp_id, code });
      setVerdict({ verified: true });
      setOtp({ ...otp!, status: 'verified', resend_available_at: null });
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      setVerdict({
        verified: false,
        message: e.message,
        code: e.code,
        remaining: e.extras.attempts_remaining,
      });
      if (e.extras.attempts_remaining !== undefined) {
        setOtp({ ...otp!, attempts_remaining: e.extras.attempts_remaining });
      }
    }
  });

  if (apps.loading && !apps.data) return <Loading />;
  const ended = otp && (otp.status !== 'pending' || expiresIn === 0 || otp.attempts_remaining === 0);

  return (
    <>
      <PageTitle sub="The whole flow on a sandbox app: your portal asks for a code, the phone gets it, the user types it back.">
        Verification demo
      </PageTitle>
      {sandbox.length === 0 ? (
        <Card>
          <p>The demo needs a sandbox app (nothing leaves this machine, the code is 123456).</p>
          <ErrorMessage error={createApp.error} />
          <Button busy={createApp.busy} onClick={() => createApp.run()}>
            Create a sandbox app
          </Button>
        </Card>
      ) : (
        <div class="demo">
          <Card title="Your portal" id="portal">
            <div class="portal">
              <form
                onSubmit={(e) => {
                  e.preventDefault();
                  send.run();
                }}
              >
                {sandbox.length > 1 && (
                  <Select
                    label="Sandbox app"
                    value={appId}
                    onValue={setAppId}
                    options={sandbox.map((a) => ({ value: a.id, label: a.name }))}
                  />
                )}
                <Field
                  label="Mobile number"
                  type="tel"
                  autoComplete="tel"
                  value={phone}
                  onValue={setPhone}
                  hint="Any valid mobile number: in sandbox, it lands in the inbox and on the phone here."
                  required
                />
                <ErrorMessage error={send.error} />
                <Button type="submit" busy={send.busy}>
                  {otp ? 'Request a new code' : 'Request code'}
                </Button>
              </form>
              {otp && (
                <form
                  onSubmit={(e) => {
                    e.preventDefault();
                    verify.run();
                  }}
                >
                  <hr />
                  <Field
                    label="Code"
                    inputRef={codeInput}
                    class="otp-input"
                    inputMode="numeric"
                    autoComplete="one-time-code"
                    maxLength={12}
                    value={code}
                    onValue={setCode}
                    disabled={!!ended}
                    required
                  />
                  <p class="small" aria-live="polite">
                    {otp.status === 'pending' && expiresIn > 0 ? (
                      <>
                        Expires in <span class="countdown">{mmss(expiresIn)}</span> · {otp.attempts_remaining}{' '}
                        attempt{otp.attempts_remaining === 1 ? '' : 's'} left
                      </>
                    ) : otp.status === 'verified' ? (
                      'Verified: this code is used up.'
                    ) : (
                      'This code has ended; request a new one.'
                    )}
                  </p>
                  <div class="actions">
                    <Button type="submit" busy={verify.busy} disabled={!!ended}>
                      Verify
                    </Button>
                    <Button
                      kind="secondary"
                      busy={resend.busy}
                      disabled={!!ended || resendIn > 0}
                      onClick={() => resend.run()}
                    >
                      {resendIn > 0 ? `Resend in ${resendIn} s` : 'Resend code'}
                    </Button>
                  </div>
                  <ErrorMessage error={resend.error ?? verify.error} />
                  {verdict && (
                    <div
                      class={`verdict ${verdict.verified ? 'yes' : 'no'}`}
                      role="status"
                      data-testid="verdict"
                    >
                      VERIFIED: {verdict.verified ? 'YES' : 'NO'}
                    </div>
                  )}
                  {verdict && !verdict.verified && (
                    <p role="alert">
                      {verdict.message} <code>{verdict.code}</code>
                      {verdict.remaining !== undefined ? ` · ${verdict.remaining} attempt(s) left` : ''}
                    </p>
                  )}
                </form>
              )}
              <details>
                <summary>What your backend sends</summary>
                <pre>
                  <code>{`POST /v1/otp/send
{"phone": "${phone}"}
→ {"otp_id": "${otp?.otp_id ?? 'otp_…'}", "status": "pending", …}

POST /v1/otp/verify
{"otp_id": "${otp?.otp_id ?? 'otp_…'}", "code": "${code || '123456'}"}
→ {"verified": true, …}`}</code>
                </pre>
              </details>
            </div>
          </Card>
          <div>
            <section class="phone" aria-label="The user's phone">
              <div class="notch" aria-hidden="true" />
              <div class="screen">
                <div class="status" aria-hidden="true">
                  <span>9:41</span>
                  <span>●●●● 5G</span>
                </div>
                <div class="app-title">Messages</div>
                <div class="thread" aria-live="polite">
                  {sms.length === 0 ? (
                    <p class="empty">
                      {otp ? 'Waiting for the SMS…' : 'Request a code: the SMS appears here.'}
                    </p>
                  ) : (
                    sms.map((m) => (
                      <div class="sms" key={m.id} data-testid="sms">
                        <div class="from">{m.sender_id ?? 'otpd'} · now</div>
                        {m.text
                          .split(/(\b[0-9A-Z]{4,12}\b)/)
                          .map((part, i) =>
                            /^[0-9A-Z]{4,12}$/.test(part) && /\d/.test(part) ? (
                              <strong key={i}>{part}</strong>
                            ) : (
                              part
                            ),
                          )}
                      </div>
                    ))
                  )}
                </div>
              </div>
            </section>
          </div>
        </div>
      )}
    </>
  );
}
