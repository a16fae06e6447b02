import type { Command } from 'commander';

/** `otpd wallet …` and `otpd prices …`: top-ups and the price table. */
export function registerWalletCommands(_program: Command): void {}
