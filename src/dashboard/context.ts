import nodemailer from 'nodemailer';
import type { DashboardConfig } from '../config.js';
import type { Context } from '../context.js';

/** Sends one mail for real; the local outbox needs none. */
export type SmtpSend = (mail: { from: string; to: string; subject: string; text: string }) => Promise<void>;

/** A service context with the dashboard's settings and, when configured, its SMTP sender. */
export interface DashboardContext extends Context {
  dashboard: {
    config: DashboardConfig;
    smtp: SmtpSend | undefined;
    /** Waits for mail handed to SMTP to be sent or to fail (tests, shutdown). */
    mailSettled(): Promise<void>;
    track(p: Promise<unknown>): void;
  };
}

export function dashboardContext(ctx: Context, config: DashboardConfig): DashboardContext {
  const transport = config.smtpUrl ? nodemailer.createTransport(config.smtpUrl) : undefined;
  const inFlight = new Set<Promise<unknown>>();
  return {
    ...ctx,
    dashboard: {
      config,
      smtp: transport
        ? async (mail) => {
            await transport.sendMail(mail);
          }
        : undefined,
      async mailSettled() {
        while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
      },
      track(p) {
        inFlight.add(p);
        p.finally(() => inFlight.delete(p)).catch(() => {});
      },
    },
  };
}
