import { type Command, InvalidArgumentError } from 'commander';
import type { TemplateStatus } from '../store/templates.js';
import {
  approveTemplate,
  getTemplateForReview,
  listAllTemplates,
  rejectTemplate,
} from '../templates/review.js';
import { integer, print, withServices } from './services.js';

const STATUSES: TemplateStatus[] = ['pending', 'approved', 'rejected', 'deleted'];

const status = (value: string): TemplateStatus => {
  if (!STATUSES.includes(value as TemplateStatus)) {
    throw new InvalidArgumentError(`One of ${STATUSES.join(', ')}.`);
  }
  return value as TemplateStatus;
};

/** `otpd templates …`: operator review of transactional SMS templates (mirrors /admin/v1/templates). */
export function registerTemplateCommands(program: Command): void {
  const templates = program.command('templates').description('review transactional SMS templates');
  templates
    .command('list')
    .description('templates of every account, newest first; --status pending is the review queue')
    .option('--status <status>', `one of ${STATUSES.join(', ')}`, status)
    .option('--account <id>', 'only this account')
    .option('--limit <n>', 'how many', integer, 100)
    .option('--cursor <id>', 'next_cursor of the previous page')
    .action(
      async (
        opts: { status?: TemplateStatus; account?: string; limit: number; cursor?: string },
        command: Command,
      ) =>
        withServices(command, async (ctx) =>
          print(
            await listAllTemplates(ctx, {
              status: opts.status,
              account_id: opts.account,
              limit: opts.limit,
              cursor: opts.cursor,
            }),
          ),
        ),
    );
  templates
    .command('get <id>')
    .action(async (id: string, _opts, command: Command) =>
      withServices(command, async (ctx) => print(await getTemplateForReview(ctx, id))),
    );
  templates
    .command('approve <id>')
    .description('approve a pending template: it can be sent from now on, and never changes')
    .action(async (id: string, _opts, command: Command) =>
      withServices(command, async (ctx) => print(await approveTemplate(ctx, id))),
    );
  templates
    .command('reject <id>')
    .description('reject a pending template; the tenant sees the reason')
    .requiredOption('--reason <text>', 'why (shown to the tenant)')
    .action(async (id: string, opts: { reason: string }, command: Command) =>
      withServices(command, async (ctx) => print(await rejectTemplate(ctx, id, opts.reason))),
    );
}
