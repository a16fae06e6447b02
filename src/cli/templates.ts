import type { Command } from 'commander';

/** `otpd templates …`: operator review of transactional SMS templates. */
export function registerTemplateCommands(_program: Command): void {}
