/** Email through SMTP (nodemailer): a text and an HTML part; accepted means the server answered 250 to the message. */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { filePath, port } from '../config/fields.js';
import { channelName, secretText, timeout } from './channel-fields.js';
import { abortedMessage, buildOrGiveUp, DeliveryError } from './errors.js';
import { notificationHtml, notificationText, notificationTitle } from './render.js';
import type { Channel, ChannelKind, Notification, SendOutcome } from './types.js';

/** nodemailer, loaded on the first email: a service with no email channel never pays its memory. */
let mailer: Promise<typeof import('nodemailer')> | undefined;

const emailChannelSchema = z.strictObject({
  name: channelName,
  type: z.literal('email'),
  smtp: z.strictObject({
    host: z.string().min(1),
    port: port.optional(),
    secure: z.enum(['tls', 'starttls', 'none']).default('starttls'),
    user: z.string().min(1).optional(),
    password: secretText.optional(),
    /** PEM file with the CA that signed the server's certificate, for private CAs. */
    ca_file: filePath.optional(),
  }),
  from: z.string().min(3),
  to: z.array(z.string().min(3)).min(1),
  timeout,
});
export type EmailChannelConfig = z.output<typeof emailChannelSchema>;

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

  async send(n: Notification, signal: AbortSignal): Promise<SendOutcome> {
    const { smtp } = this.config;
    const where = `${smtp.host}:${smtp.port ?? DEFAULT_PORTS[smtp.secure]}`;
    const parts = buildOrGiveUp(`channel ${this.name}`, () => ({
      subject: notificationTitle(n),
      text: notificationText(n),
      html: notificationHtml(n),
    }));
    mailer ??= import('nodemailer');
    const { default: nodemailer } = await mailer;
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
      // An aborted attempt must not leave a socket waiting for a server that never hangs up.
      socketCloseTimeout: 1000,
    });
    try {
      // Accepted once the server took the message for at least one recipient (nodemailer throws when none);
      // retrying for a refused address would mail the others again and again, so those are reported instead.
      const info = await transport.sendMail({
        from: this.config.from,
        to: this.config.to,
        ...parts,
        // The idempotency key doubles as Message-ID, so a resend after a crash is recognisable as the same mail.
        messageId: `<${n.id}@forgewatch>`,
        headers: { 'X-Forgewatch-Idempotency-Key': n.id },
        // nodemailer ends the SMTP session when this aborts (a server trickling replies defeats socketTimeout).
        signal,
      });
      const refused = (info.rejected ?? []).map(String);
      if (refused.length === 0) return {};
      const replies = ((info as { rejectedErrors?: { response?: string }[] }).rejectedErrors ?? [])
        .map((e) => e.response)
        .filter(Boolean);
      return { refused, ...(replies.length > 0 ? { detail: replies.join('; ') } : {}) };
    } catch (err) {
      if (signal.aborted) throw new DeliveryError(abortedMessage(signal, `SMTP server ${where}`));
      throw smtpError(err, where);
    } finally {
      transport.close();
    }
  }
}

export const emailChannel: ChannelKind<typeof emailChannelSchema> = {
  schema: emailChannelSchema,
  create: (config) => new EmailChannel(config),
};

function smtpError(err: unknown, where: string): DeliveryError {
  const e = err as { code?: string; responseCode?: number; response?: string; message?: string };
  if (e.code === 'EAUTH')
    return new DeliveryError(
      `SMTP login to ${where} failed (${e.response ?? e.message ?? 'authentication rejected'}): check smtp.user and smtp.password`,
    );
  if (e.code === 'ECONNECTION' || e.code === 'ESOCKET')
    return new DeliveryError(`cannot talk to SMTP server ${where}: ${e.message ?? e.code}`);
  if (e.code === 'ETIMEDOUT') return new DeliveryError(`SMTP server ${where} did not answer in time`);
  if (e.code === 'ETLS')
    return new DeliveryError(`STARTTLS with ${where} failed: ${e.message ?? ''} (smtp.secure, smtp.ca_file)`);
  // A 5xx to MAIL FROM, to every RCPT TO or to DATA refuses this message for good; a 4xx is "try later".
  // Envelope or message errors with no reply at all come from nodemailer itself (an address it cannot use).
  const refusal = e.code === 'EENVELOPE' || e.code === 'EMESSAGE';
  const permanent = refusal && (e.responseCode === undefined || e.responseCode >= 500);
  if (e.responseCode)
    return new DeliveryError(`SMTP server ${where} refused the message: ${e.response ?? e.responseCode}`, {
      permanent,
    });
  if (refusal)
    return new DeliveryError(`cannot send the message through ${where}: ${e.message ?? e.code}`, { permanent });
  return new DeliveryError(`sending mail through ${where} failed: ${e.message ?? String(err)}`);
}
