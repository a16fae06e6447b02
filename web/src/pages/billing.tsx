import { api, type Page } from '../api';
import {
  Card,
  ErrorMessage,
  formatMoney,
  formatTime,
  Loading,
  PageTitle,
  StatusBadge,
  useLoad,
} from '../components/ui';

interface Balance {
  balance: number;
  currency: string;
  held: number;
  low_balance_threshold: number;
}

interface Entry {
  id: string;
  type: string;
  amount: number;
  balance_after: number;
  reference: string | null;
  note: string | null;
  created_at: string;
}

export function BillingPage() {
  const balance = useLoad(() => api.get<Balance>('/balance'));
  const ledger = useLoad(() => api.get<Page<Entry>>('/ledger?limit=100'));
  const b = balance.data;
  return (
    <>
      <PageTitle sub="Prepaid: live messages are charged as they go; sandbox is free.">Balance</PageTitle>
      <ErrorMessage error={balance.error ?? ledger.error} />
      {!b && <Loading />}
      {b && (
        <div class="stats">
          <div class="stat">
            <span class="stat-label">Available</span>
            <span class="stat-value" data-testid="balance">
              {formatMoney(b.balance, b.currency)}
            </span>
          </div>
          <div class="stat">
            <span class="stat-label">Held for messages in flight</span>
            <span class="stat-value">{formatMoney(b.held, b.currency)}</span>
          </div>
          <div class="stat">
            <span class="stat-label">Low-balance alert below</span>
            <span class="stat-value">{formatMoney(b.low_balance_threshold, b.currency)}</span>
          </div>
        </div>
      )}
      <Card title="Ledger" id="ledger">
        <p class="muted small">Top-ups are added by your operator; ask them to credit a payment.</p>
        {ledger.data?.items.length === 0 && <p class="muted">No movements yet.</p>}
        {ledger.data && ledger.data.items.length > 0 && (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">When</th>
                  <th scope="col">Type</th>
                  <th scope="col">Amount</th>
                  <th scope="col">Balance after</th>
                  <th scope="col">Reference</th>
                </tr>
              </thead>
              <tbody>
                {ledger.data.items.map((e) => (
                  <tr key={e.id}>
                    <td>{formatTime(e.created_at)}</td>
                    <td>
                      <StatusBadge status={e.type} />
                    </td>
                    <td>{formatMoney(e.amount, b?.currency ?? '')}</td>
                    <td>{formatMoney(e.balance_after, b?.currency ?? '')}</td>
                    <td>
                      {e.reference ?? '—'}
                      {e.note ? <div class="muted small">{e.note}</div> : null}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
    </>
  );
}
