import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../../context.js';
import {
  DELIVERY_STATUSES,
  getEvent,
  listDeliveries,
  listEvents,
  replayDelivery,
  replayEvent,
} from '../../../webhooks/deliveries.js';
import {
  changeEndpoint,
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  listEndpoints,
  rotateSecret,
} from '../../../webhooks/endpoints.js';
import { WEBHOOK_EVENTS } from '../../../webhooks/events.js';
import { Nullable, ok, PageOf, PageQuery, responses } from '../../envelope.js';
import { Timestamp } from '../../schemas.js';

const EventType = Type.Union(WEBHOOK_EVENTS.map((e) => Type.Literal(e)));

/** Names are checked by the service, so an unknown one is INVALID_REQUEST on `events` itself. */
const EventList = Type.Array(Type.String({ maxLength: 64 }), {
  maxItems: 32,
  description: `Events to receive: ${WEBHOOK_EVENTS.join(', ')}. Left out or null: every event.`,
});
const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'http(s) URL that resolves to a public address',
});

const EndpointRecord = Type.Object(
  {
    id: Type.String(),
    app_id: Type.String(),
    url: Type.String(),
    events: Nullable(Type.Array(EventType)),
    enabled: Type.Boolean(),
    disabled_reason: Nullable(Type.String()),
    previous_secret_expires_at: Nullable(Timestamp),
    created_at: Timestamp,
    updated_at: Timestamp,
  },
  { title: 'WebhookEndpoint' },
);

const WithSecret = Type.Composite([
  EndpointRecord,
  Type.Object({ secret: Type.String({ description: 'whsec_…: shown this once' }) }),
]);

const AttemptRecord = Type.Object({
  id: Type.String(),
  attempt: Type.Integer(),
  status_code: Nullable(Type.Integer()),
  latency_ms: Type.Integer(),
  error: Nullable(Type.String()),
  created_at: Timestamp,
});

const DeliveryStatus = Type.Union(DELIVERY_STATUSES.map((s) => Type.Literal(s)));

const DeliveryRecord = Type.Object(
  {
    id: Type.String(),
    event_id: Type.String(),
    event_type: EventType,
    endpoint_id: Type.String(),
    status: DeliveryStatus,
    attempt_count: Type.Integer(),
    next_attempt_at: Nullable(Timestamp),
    last_status_code: Nullable(Type.Integer()),
    last_error: Nullable(Type.String()),
    created_at: Timestamp,
    updated_at: Timestamp,
    succeeded_at: Nullable(Timestamp),
    attempts: Type.Array(AttemptRecord),
  },
  { title: 'WebhookDelivery' },
);

const EventRecord = Type.Object(
  {
    id: Type.String(),
    type: EventType,
    created_at: Timestamp,
    payload: Type.Object({}, { additionalProperties: true }),
  },
  { title: 'WebhookEvent' },
);
const EventDetail = Type.Composite([EventRecord, Type.Object({ deliveries: Type.Array(DeliveryRecord) })]);

const AppParams = Type.Object({ id: Type.String({ maxLength: 64 }) });
const EndpointParams = Type.Object({
  id: Type.String({ maxLength: 64 }),
  endpoint_id: Type.String({ maxLength: 64 }),
});
const DeliveryParams = Type.Object({
  id: Type.String({ maxLength: 64 }),
  endpoint_id: Type.String({ maxLength: 64 }),
  delivery_id: Type.String({ maxLength: 64 }),
});
const EventParams = Type.Object({
  id: Type.String({ maxLength: 64 }),
  event_id: Type.String({ maxLength: 64 }),
});

const tags = ['Webhooks'];

/** Webhook endpoints of an app, their deliveries and replays. */
export const webhookRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/apps/:id/webhooks',
      {
        schema: {
          tags,
          summary: 'Add a webhook endpoint (the secret is shown once)',
          params: AppParams,
          body: Type.Object(
            { url: Url, events: Type.Optional(Nullable(EventList)), enabled: Type.Optional(Type.Boolean()) },
            { additionalProperties: false },
          ),
          response: responses(201, WithSecret),
        },
      },
      async (request, reply) =>
        reply.code(201).send(ok(request.id, await createEndpoint(ctx, request.params.id, request.body))),
    );

    app.get(
      '/apps/:id/webhooks',
      {
        schema: {
          tags,
          summary: "An app's webhook endpoints (never the secrets)",
          params: AppParams,
          querystring: Type.Object(PageQuery, { additionalProperties: false }),
          response: responses(200, PageOf(EndpointRecord)),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listEndpoints(ctx, request.params.id, {
            limit: request.query.limit ?? 20,
            cursor: request.query.cursor,
          }),
        ),
    );

    app.get(
      '/apps/:id/webhooks/:endpoint_id',
      {
        schema: {
          tags,
          summary: 'One webhook endpoint',
          params: EndpointParams,
          response: responses(200, EndpointRecord),
        },
      },
      async (request) =>
        ok(request.id, await getEndpoint(ctx, request.params.id, request.params.endpoint_id)),
    );

    app.patch(
      '/apps/:id/webhooks/:endpoint_id',
      {
        schema: {
          tags,
          summary: "Change an endpoint's URL, events or enabled flag",
          description: 'Disabling stops what is queued for it too; enabling clears a 410 disable.',
          params: EndpointParams,
          body: Type.Object(
            {
              url: Type.Optional(Url),
              events: Type.Optional(Nullable(EventList)),
              enabled: Type.Optional(Type.Boolean()),
            },
            { additionalProperties: false },
          ),
          response: responses(200, EndpointRecord),
        },
      },
      async (request) =>
        ok(
          request.id,
          await changeEndpoint(ctx, request.params.id, request.params.endpoint_id, request.body),
        ),
    );

    app.delete(
      '/apps/:id/webhooks/:endpoint_id',
      {
        schema: {
          tags,
          summary: 'Delete an endpoint with its deliveries',
          params: EndpointParams,
          response: responses(200, EndpointRecord),
        },
      },
      async (request) =>
        ok(request.id, await deleteEndpoint(ctx, request.params.id, request.params.endpoint_id)),
    );

    app.post(
      '/apps/:id/webhooks/:endpoint_id/rotate',
      {
        schema: {
          tags,
          summary: 'Rotate the signing secret (the new one is shown once)',
          description:
            'The old secret keeps signing beside the new one for overlap_seconds (default 86400): both signatures are sent meanwhile.',
          params: EndpointParams,
          body: Type.Optional(
            Type.Object(
              { overlap_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 604800 })) },
              { additionalProperties: false },
            ),
          ),
          response: responses(200, WithSecret),
        },
      },
      async (request) =>
        ok(
          request.id,
          await rotateSecret(ctx, request.params.id, request.params.endpoint_id, request.body ?? {}),
        ),
    );

    app.get(
      '/apps/:id/webhooks/:endpoint_id/deliveries',
      {
        schema: {
          tags,
          summary: "An endpoint's deliveries, newest first, with every attempt",
          params: EndpointParams,
          querystring: Type.Object(
            {
              status: Type.Optional(DeliveryStatus),
              event_id: Type.Optional(Type.String({ maxLength: 64 })),
              ...PageQuery,
            },
            { additionalProperties: false },
          ),
          response: responses(200, PageOf(DeliveryRecord)),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listDeliveries(ctx, request.params.id, request.params.endpoint_id, {
            status: request.query.status,
            event_id: request.query.event_id,
            cursor: request.query.cursor,
            limit: request.query.limit ?? 20,
          }),
        ),
    );

    app.post(
      '/apps/:id/webhooks/:endpoint_id/deliveries/:delivery_id/replay',
      {
        schema: {
          tags,
          summary: 'Send a delivery again (same event id and body, fresh retry schedule)',
          params: DeliveryParams,
          response: responses(200, DeliveryRecord),
        },
      },
      async (request) =>
        ok(
          request.id,
          await replayDelivery(
            ctx,
            request.params.id,
            request.params.endpoint_id,
            request.params.delivery_id,
          ),
        ),
    );

    app.get(
      '/apps/:id/webhook-events',
      {
        schema: {
          tags,
          summary: "An app's webhook events, newest first",
          params: AppParams,
          querystring: Type.Object(
            { type: Type.Optional(EventType), ...PageQuery },
            { additionalProperties: false },
          ),
          response: responses(200, PageOf(EventRecord)),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listEvents(ctx, request.params.id, {
            type: request.query.type,
            cursor: request.query.cursor,
            limit: request.query.limit ?? 20,
          }),
        ),
    );

    app.get(
      '/apps/:id/webhook-events/:event_id',
      {
        schema: {
          tags,
          summary: 'One webhook event with its deliveries and attempts',
          params: EventParams,
          response: responses(200, EventDetail),
        },
      },
      async (request) => ok(request.id, await getEvent(ctx, request.params.id, request.params.event_id)),
    );

    app.post(
      '/apps/:id/webhook-events/:event_id/replay',
      {
        schema: {
          tags,
          summary: "Replay an event's failed deliveries to endpoints still enabled",
          params: EventParams,
          response: responses(200, EventDetail),
        },
      },
      async (request) => ok(request.id, await replayEvent(ctx, request.params.id, request.params.event_id)),
    );
  };
