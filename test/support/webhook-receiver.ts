import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** One request as the receiver got it: the raw body, for signature checks. */
export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** Wall-clock ms when it arrived. */
  at: number;
}

/** How the receiver answers: a status (with headers), or never (`hang`). */
export type Answer = number | { status: number; headers?: Record<string, string> } | 'hang';

/**
 * A loopback webhook receiver for tests: records every request, answers
 * what the test says, and can go down (connections refused) and come back
 * on the same port.
 */
export class WebhookReceiver {
  readonly received: ReceivedWebhook[] = [];
  private answers: Answer[] = [];
  private fallback: Answer = 200;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private held: ServerResponse[] = [];

  private constructor(public port: number) {}

  static async start(port = 0): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver(port);
    await receiver.up();
    return receiver;
  }

  url(path = '/hook'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Answers the next requests with `answers` in turn, then with `then` (default 200). */
  respond(answers: Answer[], then: Answer = 200): void {
    this.answers = [...answers];
    this.fallback = then;
  }

  /** The ids (`webhook-id`) received, in order, repeats included. */
  ids(): string[] {
    return this.received.map((r) => r.headers['webhook-id']!);
  }

  bodies(): Record<string, any>[] {
    return this.received.map((r) => JSON.parse(r.body));
  }

  /** Listens (again) on its port. */
  async up(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening and drops every connection: requests now get "connection refused". */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    this.held = [];
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  close(): Promise<void> {
    return this.down();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        headers[name] = Array.isArray(value) ? value.join(', ') : (value ?? '');
      }
      this.received.push({ path: req.url ?? '/', headers, body, at: Date.now() });
      const answer = this.answers.shift() ?? this.fallback;
      if (answer === 'hang') {
        this.held.push(res);
        return;
      }
      const { status, headers: extra } =
        typeof answer === 'number' ? { status: answer, headers: {} } : answer;
      res.writeHead(status, { 'content-type': 'text/plain', ...extra });
      res.end(status < 300 ? 'ok' : 'no');
    });
  }
}
