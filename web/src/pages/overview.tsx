import { type Account, api, type LiveRequest } from '../api';
import { Card, ErrorMessage, formatMoney, Loading, PageTitle, StatusBadge, useLoad } from '../components/ui';

export function OverviewPage() {
  const summary = useLoad(() =>
    api.get<{ account: Account; apps: number; live_mode: LiveRequest | null }>('/account'),
  );
  if (summary.loading && !summary.data) return <Loading />;
  if (!summary.data) return <ErrorMessage error={summary.error} />;
  const { account, apps, live_mode } = summary.data;
  const origin = location.origin;
  return (
    <>
      <PageTitle sub={<code>{account.id}</code>}>{account.name}</PageTitle>
      <div class="stats">
        <div class="stat">
          <span class="stat-label">Balance</span>
          <span class="stat-value">{formatMoney(account.balance, account.currency)}</span>
        </div>
        <div class="stat">
          <span class="stat-label">Apps</span>
          <span class="stat-value">{apps}</span>
        </div>
        <div class="stat">
          <span class="stat-label">Live mode</span>
          <span class="stat-value">
            {live_mode ? (
              <StatusBadge status={live_mode.status} />
            ) : (
              <a href="/settings#live-mode">Request it</a>
            )}
          </span>
        </div>
      </div>
      <Card title="Your first code in five minutes" id="start">
        <ol class="steps">
          <li>
            <a href="/apps">Create a sandbox app</a> and an API key (<code>otpd_test_…</code>).
          </li>
          <li>
            Send a code:
            <pre>
              <code>{`curl -X POST ${origin}/v1/otp/send \\
  -H "Authorization: Bearer otpd_test_…" \\
  -H "Content-Type: application/json" \\
  -d '{"phone": "+9779841234567"}'`}</code>
            </pre>
          </li>
          <li>
            Watch it arrive in the <a href="/inbox">inbox</a> (sandbox codes are always <code>123456</code>),
            then verify:
            <pre>
              <code>{`curl -X POST ${origin}/v1/otp/verify \\
  -H "Authorization: Bearer otpd_test_…" \\
  -H "Content-Type: application/json" \\
  -d '{"otp_id": "otp_…", "code": "123456"}'`}</code>
            </pre>
          </li>
          <li>
            Follow it in the <a href="/otps">OTP explorer</a>, or play the whole flow in the{' '}
            <a href="/demo">demo</a>. The full contract is at <a href="/docs">/docs</a>.
          </li>
        </ol>
      </Card>
    </>
  );
}
