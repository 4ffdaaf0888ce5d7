/** A real SMTP server in the test process (npm smtp-server), with mailparser to read what arrived. */
import { simpleParser, type ParsedMail } from 'mailparser';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';

export interface TestCert {
  key: string;
  cert: string;
}

/** A certificate for localhost / 127.0.0.1 the client can trust via smtp.ca_file (smtp-server's own has expired). */
export async function localhostCert(): Promise<TestCert> {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    algorithm: 'sha256',
    keySize: 2048,
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
  });
  return { key: pems.private, cert: pems.cert };
}

export interface TestSmtpOptions {
  /** Offer STARTTLS with this certificate; without it STARTTLS is disabled. */
  tls?: TestCert;
  /** Require this login; without it no login is needed. */
  auth?: { user: string; password: string };
  port?: number;
}

export interface TestSmtp {
  port: number;
  /** Every message accepted, parsed, in arrival order. */
  messages: ParsedMail[];
  /** Sessions that switched to TLS before sending. */
  tlsSessions: number;
  failedLogins: number;
  /** Stops listening; start() brings it back on the same port with the same mailbox. */
  stop(): Promise<void>;
  start(): Promise<void>;
}

export async function startSmtp(opts: TestSmtpOptions = {}): Promise<TestSmtp> {
  let server: SMTPServer | undefined;
  const state: TestSmtp = {
    port: opts.port ?? 0,
    messages: [],
    tlsSessions: 0,
    failedLogins: 0,
    async start() {
      const s = new SMTPServer({
        secure: false,
        logger: false,
        closeTimeout: 200,
        ...(opts.tls ? { key: opts.tls.key, cert: opts.tls.cert } : { disabledCommands: ['STARTTLS'], allowInsecureAuth: true }),
        authOptional: !opts.auth,
        onAuth(auth, _session, cb) {
          if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.password) return cb(null, { user: auth.username });
          state.failedLogins += 1;
          cb(new Error('Invalid username or password'));
        },
        onData(stream, session, cb) {
          simpleParser(stream)
            .then((mail) => {
              if (session.secure) state.tlsSessions += 1;
              state.messages.push(mail);
              cb();
            })
            .catch((err: Error) => cb(err));
        },
      });
      s.on('error', () => undefined);
      await new Promise<void>((resolve, reject) => {
        s.server.once('error', reject);
        s.listen(state.port, '127.0.0.1', () => resolve());
      });
      state.port = (s.server.address() as { port: number }).port;
      server = s;
    },
    async stop() {
      const s = server;
      server = undefined;
      if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
    },
  };
  await state.start();
  return state;
}
