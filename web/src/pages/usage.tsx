import { useEffect, useState } from 'preact/hooks';
import { type App, api } from '../api';
import { Card, ErrorMessage, formatMoney, Loading, PageTitle, Select, useLoad } from '../components/ui';

interface Figures {
  sent: number;
  delivered: number;
  failed: number;
  verified: number;
  conversion_rate: number | null;
  messages: number;
  cost: number;
}

interface Report {
  currency: string;
  from: string;
  to: string;
  totals: Figures;
  items: (Figures & { key: string | null })[];
}

const SERIES = [
  ['sent', 'Sent'],
  ['delivered', 'Delivered'],
  ['verified', 'Verified'],
] as const;

const pct = (rate: number | null) => (rate === null ? '—' : `${(rate * 100).toFixed(1)} %`);

/** Grouped bars per day (or country, channel), drawn in SVG; the same figures follow as a table. */
function Chart({ items }: { items: Report['items'] }) {
  const max = Math.max(1, ...items.flatMap((i) => [i.sent, i.delivered, i.verified]));
  const groupWidth = 36;
  const width = Math.max(320, items.length * groupWidth + 40);
  const height = 180;
  return (
    <div class="table-wrap">
      <svg
        class="chart"
        width={width}
        height={height + 24}
        role="img"
        aria-label={`Sent, delivered and verified by ${items.length} groups; the table below has the figures`}
      >
        {[0.25, 0.5, 0.75, 1].map((f) => (
          <line
            key={f}
            x1="30"
            x2={width}
            y1={height - f * height + 4}
            y2={height - f * height + 4}
            class="grid-line"
          />
        ))}
        <text x="0" y="12" class="axis">
          {max}
        </text>
        {items.map((item, i) => (
          <g key={item.key ?? 'none'} transform={`translate(${34 + i * groupWidth},4)`}>
            {SERIES.map(([field], s) => {
              const h = (item[field] / max) * height;
              return (
                <rect key={field} class={`bar-${field}`} x={s * 10} y={height - h} width="9" height={h} />
              );
            })}
            <text x="0" y={height + 16} class="axis">
              {(item.key ?? '—').slice(5) || item.key}
            </text>
          </g>
        ))}
      </svg>
    </div>
  );
}

export function UsagePage() {
  const apps = useLoad(() => api.get<{ items: App[] }>('/apps'));
  const [appId, setAppId] = useState('');
  const [groupBy, setGroupBy] = useState('day');
  useEffect(() => {
    if (!appId && apps.data?.items[0]) setAppId(apps.data.items[0].id);
  }, [apps.data, appId]);
  const report = useLoad(
    () => (appId ? api.get<Report>(`/apps/${appId}/usage?group_by=${groupBy}`) : Promise.resolve(undefined)),
    [appId, groupBy],
  );
  if (apps.loading && !apps.data) return <Loading />;
  const r = report.data;
  return (
    <>
      <PageTitle sub="The last 30 days: sent, delivered and verified OTPs and the conversion rate.">
        Usage
      </PageTitle>
      <Card>
        <div class="filters">
          <Select
            label="App"
            value={appId}
            onValue={setAppId}
            options={(apps.data?.items ?? []).map((a) => ({
              value: a.id,
              label: `${a.name} (${a.environment})`,
            }))}
          />
          <Select
            label="Group by"
            value={groupBy}
            onValue={setGroupBy}
            options={[
              { value: 'day', label: 'Day' },
              { value: 'country', label: 'Country' },
              { value: 'channel', label: 'Channel' },
            ]}
          />
        </div>
        <ErrorMessage error={report.error} />
      </Card>
      {r && (
        <>
          <div class="stats">
            <div class="stat">
              <span class="stat-label">Sent</span>
              <span class="stat-value">{r.totals.sent}</span>
            </div>
            <div class="stat">
              <span class="stat-label">Delivered</span>
              <span class="stat-value">{r.totals.delivered}</span>
            </div>
            <div class="stat">
              <span class="stat-label">Verified</span>
              <span class="stat-value">{r.totals.verified}</span>
            </div>
            <div class="stat">
              <span class="stat-label">Conversion</span>
              <span class="stat-value" data-testid="conversion">
                {pct(r.totals.conversion_rate)}
              </span>
            </div>
            <div class="stat">
              <span class="stat-label">Cost</span>
              <span class="stat-value">{formatMoney(r.totals.cost, r.currency)}</span>
            </div>
          </div>
          <Card title={`By ${groupBy}`} id="usage-chart">
            {r.items.length === 0 ? (
              <p class="muted">Nothing sent in this period.</p>
            ) : (
              <>
                <p class="legend small">
                  {SERIES.map(([field, label]) => (
                    <span key={field}>
                      <span class={`swatch bar-${field}`} aria-hidden="true" /> {label}
                    </span>
                  ))}
                </p>
                <Chart items={r.items} />
                <div class="table-wrap">
                  <table>
                    <thead>
                      <tr>
                        <th scope="col">{groupBy}</th>
                        <th scope="col">Sent</th>
                        <th scope="col">Delivered</th>
                        <th scope="col">Verified</th>
                        <th scope="col">Failed</th>
                        <th scope="col">Conversion</th>
                        <th scope="col">Cost</th>
                      </tr>
                    </thead>
                    <tbody>
                      {r.items.map((i) => (
                        <tr key={i.key ?? 'none'}>
                          <th scope="row">{i.key ?? 'unknown'}</th>
                          <td>{i.sent}</td>
                          <td>{i.delivered}</td>
                          <td>{i.verified}</td>
                          <td>{i.failed}</td>
                          <td>{pct(i.conversion_rate)}</td>
                          <td>{formatMoney(i.cost, r.currency)}</td>
                        </tr>
                      ))}
                    </tbody>
                  </table>
                </div>
              </>
            )}
          </Card>
        </>
      )}
    </>
  );
}
