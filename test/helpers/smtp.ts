/** A real SMTP server in the test process (npm smtp-server), with mailparser to read what arrived. */
import net from 'node:net';
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
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}

export interface TestSmtpOptions {
  /** Offer STARTTLS with this certificate; without it STARTTLS is disabled. */
  tls?: TestCert;
  /** Require this login; without it no login is needed. */
  auth?: { user: string; password: string };
  port?: number;
  /** Answer 550 to RCPT TO for these addresses. */
  refuseRecipients?: string[];
  /** Refuse every message after DATA with this reply code (e.g. 554). */
  rejectMessage?: number;
}

export interface TestSmtp {
  port: number;
  /** Every message accepted, parsed, in arrival order. */
  messages: ParsedMail[];
  /** The accepted RCPT TO addresses of each message, in the order of `messages`. */
  envelopes: string[][];
  /** DATA commands answered (accepted or refused). */
  dataCommands: number;
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
    envelopes: [],
    dataCommands: 0,
    tlsSessions: 0,
    failedLogins: 0,
    async start() {
      const s = new SMTPServer({
        secure: false,
        logger: false,
        closeTimeout: 200,
        ...(opts.tls
          ? { key: opts.tls.key, cert: opts.tls.cert }
          : { disabledCommands: ['STARTTLS'], allowInsecureAuth: true }),
        authOptional: !opts.auth,
        onAuth(auth, _session, cb) {
          if (opts.auth && auth.username === opts.auth.user && auth.password === opts.auth.password)
            return cb(null, { user: auth.username });
          state.failedLogins += 1;
          cb(new Error('Invalid username or password'));
        },
        onRcptTo(address, _session, cb) {
          if (!opts.refuseRecipients?.includes(address.address)) return cb();
          cb(Object.assign(new Error(`5.1.1 <${address.address}>: mailbox unknown`), { responseCode: 550 }));
        },
        onData(stream, session, cb) {
          state.dataCommands += 1;
          simpleParser(stream)
            .then((mail) => {
              if (opts.rejectMessage)
                return cb(
                  Object.assign(new Error('5.7.1 message refused by policy'), { responseCode: opts.rejectMessage }),
                );
              if (session.secure) state.tlsSessions += 1;
              state.messages.push(mail);
              state.envelopes.push(session.envelope.rcptTo.map((a) => a.address));
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

export interface TricklingSmtp {
  port: number;
  /** Connections accepted so far. */
  connections: number;
  /** Connections the client has closed. */
  closedByClient: number;
  close(): Promise<void>;
}

/**
 * A hostile SMTP server: it greets, then answers EHLO with `250-` continuation lines forever, one every 50 ms,
 * so a client's inactivity timeout never fires.
 */
export async function startTricklingSmtp(): Promise<TricklingSmtp> {
  const sockets = new Set<net.Socket>();
  let closing = false;
  const state = { port: 0, connections: 0, closedByClient: 0 };
  const server = net.createServer((socket) => {
    state.connections += 1;
    sockets.add(socket);
    let timer: NodeJS.Timeout | undefined;
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearInterval(timer);
      sockets.delete(socket);
      if (!closing) state.closedByClient += 1;
    });
    socket.write('220 trickle.test ESMTP\r\n');
    socket.once('data', () => {
      let n = 0;
      timer = setInterval(() => socket.write(`250-still thinking ${++n}\r\n`), 50);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  state.port = (server.address() as net.AddressInfo).port;
  return Object.assign(state, {
    close: () =>
      new Promise<void>((resolve) => {
        closing = true;
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
}
