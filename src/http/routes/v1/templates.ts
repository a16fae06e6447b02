import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { Context } from '../../../context.js';
import { TEMPLATE_BOUNDS } from '../../../core/template.js';
import { sendSms } from '../../../templates/send.js';
import { deleteTemplate, getTemplate, listTemplates, submitTemplate } from '../../../templates/templates.js';
import { Nullable, ok, PageOf, PageQuery, responses } from '../../envelope.js';
import { Timestamp } from '../../schemas.js';

export const TemplateStatus = Type.Union(
  ['pending', 'approved', 'rejected', 'deleted'].map((s) => Type.Literal(s)),
  { description: 'pending → approved | rejected; any → deleted. Only approved templates can be sent.' },
);

const templateFields = {
  account_id: Type.String(),
  app_id: Type.String({ description: 'The app whose key submitted it' }),
  name: Type.String(),
  body: Type.String({ description: 'Text with {{variable}} placeholders' }),
  use_case: Type.String(),
  variables: Type.Array(Type.String(), { description: 'Variable names, in order of first use' }),
  status: TemplateStatus,
  rejection_reason: Nullable(Type.String()),
  created_at: Timestamp,
  reviewed_at: Nullable(Timestamp),
  deleted_at: Nullable(Timestamp),
};

export const TemplateRecord = Type.Object(
  { template_id: Type.String(), ...templateFields },
  { title: 'Template' },
);

/** The admin API's view: the same record with `id`, like every admin record. */
export const AdminTemplateRecord = Type.Object(
  { id: Type.String(), template_id: Type.String(), ...templateFields },
  { title: 'AdminTemplate' },
);

const SubmitBody = Type.Object(
  {
    name: Type.String({
      minLength: 1,
      maxLength: TEMPLATE_BOUNDS.name.maxLength,
      examples: ['Order shipped'],
    }),
    body: Type.String({
      minLength: 1,
      maxLength: TEMPLATE_BOUNDS.body.maxLength,
      description:
        '{{variable}} placeholders (lowercase letters, digits, _; starting with a letter; ≤ 32). No links or URLs.',
      examples: ['Your order {{order_id}} has been shipped. Expected delivery: {{delivery_date}}.'],
    }),
    use_case: Type.String({
      minLength: 1,
      maxLength: TEMPLATE_BOUNDS.useCase.maxLength,
      description: 'What the messages are for, for the reviewer',
      examples: ['Shipping notice after an order leaves the warehouse'],
    }),
  },
  { additionalProperties: false },
);

const SendBody = Type.Object(
  {
    phone: Type.String({
      minLength: 3,
      maxLength: 32,
      description: "E.164 (+9779841234567), or national with the app's default_country",
    }),
    template_id: Type.String({ minLength: 1, maxLength: 64, description: 'An approved template (tpl_…)' }),
    variables: Type.Optional(
      Type.Object(
        {},
        {
          additionalProperties: true,
          maxProperties: 50,
          description: `Every variable of the template, each a string or number of ≤ ${TEMPLATE_BOUNDS.value.maxLength} characters without links or control characters`,
          examples: [{ order_id: 'ORD-2024-0847', delivery_date: 'Jan 18, 2024' }],
        },
      ),
    ),
  },
  { additionalProperties: false },
);

const SmsSent = Type.Object({
  message_id: Type.String({ description: 'Follow it with GET /v1/messages/{id}' }),
  status: Type.Literal('queued'),
  phone: Type.String({ description: 'E.164' }),
  template_id: Type.String(),
  created_at: Timestamp,
});

const TemplateParams = Type.Object({ id: Type.String({ maxLength: 64 }) });

/** Transactional SMS templates and POST /v1/sms/send (per account). */
export const templateRoutes =
  (ctx: Context): FastifyPluginAsyncTypebox =>
  async (app) => {
    app.post(
      '/templates',
      {
        schema: {
          tags: ['Templates'],
          summary: 'Submit a template for review',
          description:
            'Starts `pending`; an operator approves or rejects it. Approved templates never change: to change one, submit a new one. At most 20 pending or approved per account.',
          body: SubmitBody,
          response: responses(201, TemplateRecord),
        },
      },
      async (request, reply) =>
        reply.code(201).send(ok(request.id, await submitTemplate(ctx, request.tenant, request.body))),
    );

    app.get(
      '/templates',
      {
        schema: {
          tags: ['Templates'],
          summary: "The account's templates, newest first",
          querystring: Type.Object(
            { status: Type.Optional(TemplateStatus), ...PageQuery },
            { additionalProperties: false },
          ),
          response: responses(200, PageOf(TemplateRecord)),
        },
      },
      async (request) =>
        ok(
          request.id,
          await listTemplates(ctx, request.tenant, {
            status: request.query.status as never,
            cursor: request.query.cursor,
            limit: request.query.limit ?? 20,
          }),
        ),
    );

    app.get(
      '/templates/:id',
      {
        schema: {
          tags: ['Templates'],
          summary: 'One template',
          params: TemplateParams,
          response: responses(200, TemplateRecord),
        },
      },
      async (request) => ok(request.id, await getTemplate(ctx, request.tenant, request.params.id)),
    );

    app.delete(
      '/templates/:id',
      {
        schema: {
          tags: ['Templates'],
          summary: 'Delete a template',
          description:
            'It can no longer be sent and frees its slot; it stays readable with status `deleted`.',
          params: TemplateParams,
          response: responses(200, TemplateRecord),
        },
      },
      async (request) => ok(request.id, await deleteTemplate(ctx, request.tenant, request.params.id)),
    );

    app.post(
      '/sms/send',
      {
        schema: {
          tags: ['Templates'],
          summary: 'Send a transactional SMS from an approved template',
          description:
            'Limits: sms_phone_template_hour (3 per phone and template per hour), sms_key_day (1,000 per key per 24 h).',
          body: SendBody,
          response: responses(201, SmsSent),
        },
      },
      async (request, reply) =>
        reply.code(201).send(ok(request.id, await sendSms(ctx, request.tenant, request.body))),
    );
  };
