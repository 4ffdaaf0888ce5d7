/** Email through SMTP (nodemailer): a text and an HTML part; accepted means the server answered 250 to the message. */
import { readFileSync } from 'node:fs';
import nodemailer from 'nodemailer';
import type { EmailChannelConfig } from './config.js';
import { notificationHtml, notificationText, notificationTitle } from './render.js';
import type { Channel, Notification } from './types.js';

const DEFAULT_PORTS = { tls: 465, starttls: 587, none: 25 } as const;

export class EmailChannel implements Channel {
  readonly type = 'email';
  readonly name: string;
  readonly timeoutMs: number;
  readonly secrets: readonly string[];
  private readonly ca: string | undefined;

  constructor(private readonly config: EmailChannelConfig) {
    this.name = config.name;
    this.timeoutMs = config.timeout;
    this.secrets = config.smtp.password ? [config.smtp.password] : [];
    this.ca = config.smtp.ca_file ? readFileSync(config.smtp.ca_file, 'utf8') : undefined;
  }

  async send(n: Notification, signal: AbortSignal): Promise<void> {
    const { smtp } = this.config;
    const transport = nodemailer.createTransport({
      host: smtp.host,
      port: smtp.port ?? DEFAULT_PORTS[smtp.secure],
      secure: smtp.secure === 'tls',
      requireTLS: smtp.secure === 'starttls',
      ignoreTLS: smtp.secure === 'none',
      ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
      tls: { servername: smtp.host, ...(this.ca ? { ca: this.ca } : {}) },
      connectionTimeout: this.timeoutMs,
      greetingTimeout: this.timeoutMs,
      socketTimeout: this.timeoutMs,
    });
    const abort = () => transport.close();
    signal.addEventListener('abort', abort, { once: true });
    try {
      // Accepted once the server took the message for at least one recipient (nodemailer throws when none);
      // retrying for a refused address would mail the others again and again.
      await transport.sendMail({
        from: this.config.from,
        to: this.config.to,
        subject: notificationTitle(n),
        text: notificationText(n),
        html: notificationHtml(n),
        // The idempotency key doubles as Message-ID, so a resend after a crash is recognisable as the same mail.
        messageId: `<${n.id}@forgewatch>`,
        headers: { 'X-Forgewatch-Idempotency-Key': n.id },
      });
    } catch (err) {
      throw new Error(describeSmtpError(err, `${smtp.host}:${smtp.port ?? DEFAULT_PORTS[smtp.secure]}`));
    } finally {
      signal.removeEventListener('abort', abort);
      transport.close();
    }
  }
}

function describeSmtpError(err: unknown, where: string): string {
  const e = err as { code?: string; responseCode?: number; response?: string; message?: string };
  if (e.code === 'EAUTH') return `SMTP login to ${where} failed (${e.response ?? e.message ?? 'authentication rejected'}): check smtp.user and smtp.password`;
  if (e.code === 'ECONNECTION' || e.code === 'ESOCKET') return `cannot talk to SMTP server ${where}: ${e.message ?? e.code}`;
  if (e.code === 'ETIMEDOUT') return `SMTP server ${where} did not answer in time`;
  if (e.code === 'ETLS') return `STARTTLS with ${where} failed: ${e.message ?? ''} (smtp.secure, smtp.ca_file)`;
  if (e.responseCode) return `SMTP server ${where} refused the message: ${e.response ?? e.responseCode}`;
  return `sending mail through ${where} failed: ${e.message ?? String(err)}`;
}
