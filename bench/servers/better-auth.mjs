/**
 * better-auth's phone-number plugin on SQLite, served by node:http through
 * its toNodeHandler: the comparison for otpd's send and verify. Plain
 * JavaScript, run by plain node. Its rate limit is off and its sendOTP only
 * keeps the code in memory; `verify` signs the number up (as a sign-in flow
 * would) without creating a session. The database gets the same pragmas as
 * otpd's (WAL, synchronous NORMAL), so neither pays for an fsync per commit.
 *
 *   node bench/servers/better-auth.mjs <sqlite file>
 *
 * IPC: tells its port; on `{ type: 'precreate', phones }` sends each number
 * an OTP through its own API and answers `{ codes }` (same order).
 */
import { createServer } from 'node:http';
import { betterAuth } from 'better-auth';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import { phoneNumber } from 'better-auth/plugins';
import Database from 'better-sqlite3';

const file = process.argv[2];
if (!file) throw new Error('usage: better-auth.mjs <sqlite file>');
const database = new Database(file);
database.pragma('busy_timeout = 5000');
database.pragma('journal_mode = WAL');
database.pragma('synchronous = NORMAL');

/** The latest code of each number, as an SMS would carry it. */
const codes = new Map();
const auth = betterAuth({
  database,
  secret: 'bench-better-auth-secret-0123456789abcdef',
  baseURL: 'http://127.0.0.1',
  rateLimit: { enabled: false },
  logger: { disabled: true },
  telemetry: { enabled: false },
  plugins: [
    phoneNumber({
      sendOTP: ({ phoneNumber: phone, code }) => {
        codes.set(phone, code);
      },
      signUpOnVerification: { getTempEmail: (phone) => `${phone.slice(1)}@bench.invalid` },
    }),
  ],
});
const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

const server = createServer(toNodeHandler(auth));
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));

process.on('message', async (request) => {
  if (request?.type !== 'precreate') return;
  const phones = request.phones;
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < phones.length) {
        const phone = phones[next++];
        await auth.api.sendPhoneNumberOTP({ body: { phoneNumber: phone } });
      }
    }),
  );
  process.send({ codes: phones.map((phone) => codes.get(phone)) });
});
process.send({ port: server.address().port });
process.on('disconnect', () => server.close(() => process.exit(0)));
