import { useEffect, useState } from 'preact/hooks';
import { api, type SessionState } from '../api';
import { Alert, Button, Card, ErrorMessage, Field, fieldError, PageTitle, useAction } from '../components/ui';
import { fragmentParam, navigate, query } from '../router';
import { useSession } from '../session';

const PASSWORD_HINT = 'At least 10 characters. A few unrelated words make a good one.';

/** Where to go after login: the page that sent us here, if it is one of ours. */
function next(): string {
  const to = query().get('next');
  return to?.startsWith('/') && !to.startsWith('//') ? to : '/';
}

export function LoginPage() {
  const { state, set } = useSession();
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [useRecovery, setUseRecovery] = useState(false);
  const login = useAction(async () => {
    const s = await api.post<SessionState>('/login', { email, password });
    set(s);
    if (!s.second_factor_required) navigate(next());
  });
  const second = useAction(async () => {
    const s = await api.post<SessionState>(
      '/login/second-factor',
      useRecovery ? { recovery_code: code } : { code: code.replace(/\s/g, '') },
    );
    set(s);
    navigate(next());
  });
  useEffect(() => {
    if (state?.user && !state.second_factor_required) navigate(next(), true);
  }, [state]);

  if (state?.second_factor_required) {
    return (
      <div class="narrow">
        <PageTitle sub={`Logging in as ${state.user?.email}`}>Two-factor login</PageTitle>
        <Card>
          <form
            onSubmit={(e) => {
              e.preventDefault();
              second.run();
            }}
          >
            <ErrorMessage error={second.error} />
            {useRecovery ? (
              <Field
                label="Recovery code"
                autoComplete="off"
                value={code}
                onValue={setCode}
                hint="One of the codes you saved when you turned two-factor login on. Each works once."
                required
              />
            ) : (
              <Field
                label="Code from your authenticator app"
                inputMode="numeric"
                autoComplete="one-time-code"
                pattern="[0-9 ]{6,7}"
                maxLength={7}
                value={code}
                onValue={setCode}
                autoFocus
                required
              />
            )}
            <div class="actions">
              <Button type="submit" busy={second.busy}>
                Verify
              </Button>
              <Button
                kind="link"
                onClick={() => {
                  setUseRecovery(!useRecovery);
                  setCode('');
                }}
              >
                {useRecovery ? 'Use the authenticator app' : 'Use a recovery code'}
              </Button>
            </div>
          </form>
        </Card>
      </div>
    );
  }

  return (
    <div class="narrow">
      <PageTitle sub="Manage your apps, keys and OTPs.">Log in</PageTitle>
      <Card>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            login.run();
          }}
        >
          <ErrorMessage error={login.error} />
          <Field
            label="Email"
            type="email"
            autoComplete="username"
            value={email}
            onValue={setEmail}
            required
          />
          <Field
            label="Password"
            type="password"
            autoComplete="current-password"
            value={password}
            onValue={setPassword}
            required
          />
          <div class="actions">
            <Button type="submit" busy={login.busy}>
              Log in
            </Button>
            <a href="/forgot-password">Forgot your password?</a>
          </div>
        </form>
      </Card>
      <p class="center">
        New here? <a href="/signup">Create an account</a>
      </p>
    </div>
  );
}

export function SignupPage() {
  const [name, setName] = useState('');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [operatorToken, setOperatorToken] = useState('');
  const [asOperator, setAsOperator] = useState(false);
  const [sentTo, setSentTo] = useState<string | null>(null);
  const signup = useAction(async () => {
    const r = await api.post<{ email: string }>('/signup', {
      email,
      password,
      ...(name ? { name } : {}),
      ...(asOperator ? { operator_token: operatorToken } : {}),
    });
    setSentTo(r.email);
  });

  if (sentTo) {
    return (
      <div class="narrow">
        <PageTitle>Check your mail</PageTitle>
        <Card>
          <Alert kind="success">
            We sent a verification link to <strong>{sentTo}</strong>. Open it to finish signing up.
          </Alert>
          <p class="muted">
            No SMTP server configured? Then the mail is on this otpd: open the <a href="/inbox">inbox</a> with
            the operator token and look under Mail.
          </p>
        </Card>
      </div>
    );
  }
  return (
    <div class="narrow">
      <PageTitle sub="Sandbox apps work at once; live mode is a request away.">Create your account</PageTitle>
      <Card>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            signup.run();
          }}
        >
          <ErrorMessage error={signup.error} />
          {!asOperator && (
            <Field
              label="Organisation"
              autoComplete="organization"
              value={name}
              onValue={setName}
              maxLength={100}
            />
          )}
          <Field
            label="Email"
            type="email"
            autoComplete="email"
            value={email}
            onValue={setEmail}
            error={fieldError(signup.error, 'email')}
            required
          />
          <Field
            label="Password"
            type="password"
            autoComplete="new-password"
            minLength={10}
            value={password}
            onValue={setPassword}
            hint={PASSWORD_HINT}
            error={fieldError(signup.error, 'password')}
            required
          />
          <div class="check">
            <input
              id="as-operator"
              type="checkbox"
              checked={asOperator}
              onChange={(e) => setAsOperator((e.currentTarget as HTMLInputElement).checked)}
            />
            <label for="as-operator">I run this otpd (operator account)</label>
          </div>
          {asOperator && (
            <Field
              label="Operator token"
              type="password"
              autoComplete="off"
              value={operatorToken}
              onValue={setOperatorToken}
              hint="The token otpd init printed, or OTPD_ADMIN_TOKEN."
              required
            />
          )}
          <div class="actions">
            <Button type="submit" busy={signup.busy}>
              Sign up
            </Button>
          </div>
        </form>
      </Card>
      <p class="center">
        Have an account? <a href="/login">Log in</a>
      </p>
    </div>
  );
}

export function VerifyEmailPage() {
  const token = fragmentParam('token');
  const [email, setEmail] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const [resent, setResent] = useState(false);
  const verify = useAction(async () => {
    const user = await api.post<{ email: string }>('/verify-email', { token });
    setDone(user.email);
    history.replaceState(null, '', '/verify-email');
  });
  const resend = useAction(async () => {
    await api.post('/verify-email/resend', { email });
    setResent(true);
  });
  useEffect(() => {
    if (token) verify.run();
  }, []);

  return (
    <div class="narrow">
      <PageTitle>Verify your email</PageTitle>
      <Card>
        {verify.busy && <p role="status">Checking the link…</p>}
        {done && (
          <>
            <Alert kind="success">
              <strong>{done}</strong> is verified.
            </Alert>
            <div class="actions">
              <a class="btn btn-primary" href="/login">
                Log in
              </a>
            </div>
          </>
        )}
        {(!token || verify.error) && !done && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              resend.run();
            }}
          >
            <ErrorMessage error={verify.error} />
            {resent ? (
              <Alert kind="success">If that address waits for verification, a new link is on its way.</Alert>
            ) : (
              <>
                <p>Need a new link? Enter your address.</p>
                <Field label="Email" type="email" value={email} onValue={setEmail} required />
                <ErrorMessage error={resend.error} />
                <Button type="submit" busy={resend.busy}>
                  Send a new link
                </Button>
              </>
            )}
          </form>
        )}
      </Card>
    </div>
  );
}

export function ForgotPage() {
  const [email, setEmail] = useState('');
  const [sent, setSent] = useState(false);
  const forgot = useAction(async () => {
    await api.post('/password/forgot', { email });
    setSent(true);
  });
  return (
    <div class="narrow">
      <PageTitle>Reset your password</PageTitle>
      <Card>
        {sent ? (
          <Alert kind="success">
            If {email} has a login, a reset link is on its way. It works for one hour.
          </Alert>
        ) : (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              forgot.run();
            }}
          >
            <ErrorMessage error={forgot.error} />
            <Field
              label="Email"
              type="email"
              autoComplete="username"
              value={email}
              onValue={setEmail}
              required
            />
            <Button type="submit" busy={forgot.busy}>
              Send the link
            </Button>
          </form>
        )}
      </Card>
    </div>
  );
}

export function ResetPage() {
  const [token] = useState(fragmentParam('token'));
  const [password, setPassword] = useState('');
  const [done, setDone] = useState(false);
  const reset = useAction(async () => {
    await api.post('/password/reset', { token, password });
    history.replaceState(null, '', '/reset-password');
    setDone(true);
  });
  return (
    <div class="narrow">
      <PageTitle>Choose a new password</PageTitle>
      <Card>
        {done ? (
          <>
            <Alert kind="success">Your password is changed; every session was logged out.</Alert>
            <a class="btn btn-primary" href="/login">
              Log in
            </a>
          </>
        ) : !token ? (
          <Alert>
            This page needs the link from the reset mail. <a href="/forgot-password">Ask for one</a>.
          </Alert>
        ) : (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              reset.run();
            }}
          >
            <ErrorMessage error={reset.error} />
            <Field
              label="New password"
              type="password"
              autoComplete="new-password"
              minLength={10}
              value={password}
              onValue={setPassword}
              hint={PASSWORD_HINT}
              required
            />
            <Button type="submit" busy={reset.busy}>
              Set the password
            </Button>
          </form>
        )}
      </Card>
    </div>
  );
}
