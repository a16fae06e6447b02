import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../../context.js';
import { REPORT_DIMENSIONS, usageReport } from '../../../reports/usage.js';
import { getBalance, LEDGER_TYPES, listLedger } from '../../../wallet/ledger.js';
import { pricesForAccount } from '../../../wallet/prices.js';
import { Nullable, ok, PageOf, PageQuery, responses } from '../../envelope.js';
import { Channel, Timestamp } from '../../schemas.js';
import { timeParam } from '../../validation.js';

const Money = (description: string) => Type.Integer({ description: `${description} (micro-units)` });

export const BalanceRecord = Type.Object(
  {
    account_id: Type.String(),
    balance: Money('What the account can spend now'),
    currency: Type.String(),
    held: Money('Held for messages in flight: captured when delivered, released when they fail'),
    low_balance_threshold: Money('balance.low fires when the balance falls below this; 0 = never'),
  },
  { title: 'Balance' },
);

export const LedgerType = Type.Union(LEDGER_TYPES.map((t) => Type.Literal(t)));

export const LedgerEntryRecord = Type.Object(
  {
    id: Type.String(),
    type: LedgerType,
    amount: Money('Change to the balance'),
    held_change: Money('Change to the held funds'),
    balance_after: Money('The balance right after this entry'),
    reference: Type.String({ description: 'Your top-up reference, or the message id of a charge' }),
    note: Nullable(Type.String()),
    app_id: Nullable(Type.String()),
    created_at: Timestamp,
  },
  { title: 'LedgerEntry' },
);

export const PriceRecord = Type.Object(
  {
    currency: Type.String(),
    channel: Channel,
    country: Type.String({ description: 'ISO 3166-1 alpha-2, or * for every other country' }),
    price: Money('Price per unit'),
    unit: Type.Union([Type.Literal('segment'), Type.Literal('message')]),
    updated_at: Timestamp,
  },
  { title: 'Price' },
);

const Figures = {
  sent: Type.Integer({ description: 'OTPs created (send requests; resends are not new OTPs)' }),
  delivered: Type.Integer({ description: 'Of those OTPs, delivered on some channel' }),
  failed: Type.Integer({ description: 'Of those OTPs, undeliverable on every channel' }),
  verified: Type.Integer({ description: 'Of those OTPs, verified' }),
  conversion_rate: Nullable(Type.Number({ description: 'verified ÷ sent' })),
  messages: Type.Integer({ description: 'Messages: sends, resends, fallbacks and template SMS' }),
  cost: Money('What those messages cost (captured)'),
  held: Money('What those messages still hold'),
};

const UsageReport = Type.Object(
  {
    app_id: Type.String(),
    from: Timestamp,
    to: Timestamp,
    group_by: Type.Union(REPORT_DIMENSIONS.map((d) => Type.Literal(d))),
    currency: Type.String(),
    totals: Type.Object(Figures),
    items: Type.Array(
      Type.Object({
        key: Nullable(Type.String({ description: 'YYYY-MM-DD (UTC), country or channel' })),
        ...Figures,
      }),
    ),
  },
  { title: 'UsageReport' },
);

/** The tenant's balance, ledger, prices and usage reports. */
export const walletRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.get(
      '/balance',
      {
        schema: {
          tags: ['Wallet'],
          summary: "The account's balance, held funds and low-balance threshold",
          response: responses(200, BalanceRecord),
        },
      },
      async (request) => ok(request.id, await getBalance(ctx, request.tenant.account_id)),
    );

    app.get(
      '/ledger',
      {
        schema: {
          tags: ['Wallet'],
          summary: "The account's ledger, newest first",
          description:
            'Every movement of money: top-ups, holds, captures, releases, refunds, adjustments. The sum of `amount` over all entries is the balance.',
          querystring: Type.Object(
            { type: Type.Optional(LedgerType), ...PageQuery },
            { additionalProperties: false },
          ),
          response: responses(200, PageOf(LedgerEntryRecord)),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listLedger(ctx, request.tenant.account_id, {
            type: request.query.type,
            cursor: request.query.cursor,
            limit: request.query.limit ?? 20,
          }),
        ),
    );

    app.get(
      '/prices',
      {
        schema: {
          tags: ['Wallet'],
          summary: 'What messages cost, in the account’s currency',
          description:
            'Per message, per segment for SMS. A country without its own price pays the `*` price of the channel; a channel with neither is free. Sandbox is always free.',
          response: responses(200, Type.Object({ currency: Type.String(), items: Type.Array(PriceRecord) })),
        },
      },
      async (request) => ok(request.id, await pricesForAccount(ctx, request.tenant.account_id)),
    );

    app.get(
      '/reports/usage',
      {
        schema: {
          tags: ['Wallet'],
          summary: "The app's usage: sent, delivered, failed, verified, conversion and cost",
          description:
            'For [from, to) (default: the last 30 days; at most 400 days), grouped by UTC day, country or channel.',
          querystring: Type.Object(
            {
              from: Type.Optional(Timestamp),
              to: Type.Optional(Timestamp),
              group_by: Type.Optional(Type.Union(REPORT_DIMENSIONS.map((d) => Type.Literal(d)))),
            },
            { additionalProperties: false },
          ),
          response: responses(200, UsageReport),
        },
      },
      async (request) =>
        ok(
          request.id,
          await usageReport(ctx, request.tenant, {
            from: timeParam(request.query.from, 'from'),
            to: timeParam(request.query.to, 'to'),
            group_by: request.query.group_by,
          }),
        ),
    );
  };
