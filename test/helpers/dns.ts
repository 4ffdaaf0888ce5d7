/** A small authoritative DNS server over UDP on 127.0.0.1 for tests: A, AAAA and CNAME answers from a table. */
import dgram from 'node:dgram';
import net from 'node:net';

export interface DnsEntry {
  A?: string[];
  AAAA?: string[];
  CNAME?: string;
  /** Answer with this response code instead of records. */
  rcode?: 'SERVFAIL' | 'REFUSED';
  /** Never answer (for timeouts). */
  silent?: boolean;
}

export interface RunningDns {
  port: number;
  /** "127.0.0.1:PORT", as a check's `server:` takes it. */
  address: string;
  /** Every name asked, in order ("A api.example.test"). */
  queries: string[];
  close(): Promise<void>;
}

const TYPES: Record<number, 'A' | 'AAAA' | 'CNAME'> = { 1: 'A', 28: 'AAAA', 5: 'CNAME' };
const RCODES = { NOERROR: 0, SERVFAIL: 2, NXDOMAIN: 3, REFUSED: 5 } as const;

function encodeName(name: string): Buffer {
  const labels = name.replace(/\.$/, '').split('.').filter(Boolean);
  return Buffer.concat([
    ...labels.map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)])),
    Buffer.from([0]),
  ]);
}

function encodeIpv6(ip: string): Buffer {
  const [head = '', tail] = ip.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

function rdata(type: 'A' | 'AAAA' | 'CNAME', value: string): Buffer {
  if (type === 'A') return Buffer.from(value.split('.').map(Number));
  if (type === 'AAAA') return encodeIpv6(value);
  return encodeName(value);
}

/** Reads the question: the name's labels from offset 12, then type and class. */
function parseQuestion(msg: Buffer): { name: string; type: number; end: number } | undefined {
  const labels: string[] = [];
  let at = 12;
  while (at < msg.length) {
    const len = msg[at] ?? 0;
    at += 1;
    if (len === 0) break;
    labels.push(msg.subarray(at, at + len).toString('latin1'));
    at += len;
  }
  if (at + 4 > msg.length) return undefined;
  return { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(at), end: at + 4 };
}

function respond(query: Buffer, question: { type: number; end: number }, rcode: number, answers: Buffer[]): Buffer {
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2);
  header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, query.subarray(12, question.end), ...answers]);
}

function answer(type: number, value: Buffer, ttl = 300): Buffer {
  const fixed = Buffer.alloc(12);
  fixed.writeUInt16BE(0xc00c, 0); // pointer to the question's name
  fixed.writeUInt16BE(type, 2);
  fixed.writeUInt16BE(1, 4);
  fixed.writeUInt32BE(ttl, 6);
  fixed.writeUInt16BE(value.length, 10);
  return Buffer.concat([fixed, value]);
}

/** `bind`: where it answers (port 53 on an address of a network namespace's resolv.conf, for the system resolver). */
export async function startDnsServer(
  zone: Record<string, DnsEntry>,
  bind: { host: string; port: number } = { host: '127.0.0.1', port: 0 },
): Promise<RunningDns> {
  const socket = dgram.createSocket('udp4');
  const queries: string[] = [];
  const table = new Map(Object.entries(zone).map(([k, v]) => [k.toLowerCase().replace(/\.$/, ''), v]));
  socket.on('message', (msg, peer) => {
    const question = parseQuestion(msg);
    if (!question) return;
    const typeName = TYPES[question.type];
    queries.push(`${typeName ?? question.type} ${question.name}`);
    const entry = table.get(question.name);
    if (entry?.silent) return;
    let reply: Buffer;
    if (!entry) reply = respond(msg, question, RCODES.NXDOMAIN, []);
    else if (entry.rcode) reply = respond(msg, question, RCODES[entry.rcode], []);
    else {
      const values =
        typeName === 'CNAME' ? (entry.CNAME ? [entry.CNAME] : []) : typeName ? (entry[typeName] ?? []) : [];
      const valid = values.filter((v) => typeName === 'CNAME' || net.isIP(v) === (typeName === 'A' ? 4 : 6));
      reply = respond(
        msg,
        question,
        RCODES.NOERROR,
        typeName ? valid.map((v) => answer(question.type, rdata(typeName, v))) : [],
      );
    }
    socket.send(reply, peer.port, peer.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(bind.port, bind.host, () => resolve());
  });
  const { port } = socket.address();
  return {
    port,
    address: `${bind.host}:${port}`,
    queries,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
