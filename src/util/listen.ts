/**
 * The address the API listens on, from `server.listen` in the config or `serve --listen`: both read it
 * here so they cannot disagree. An empty host means loopback: a monitoring API open to the network
 * must be asked for by name (0.0.0.0:9464 or [::]:9464), never reached by leaving the host out.
 */
import net from 'node:net';

export interface ListenAddress {
  host: string;
  port: number;
}

export const LOOPBACK_HOST = '127.0.0.1';

type ParsedListen = { ok: true; address: ListenAddress } | { ok: false; problem: string };

/** HOST:PORT, [IPv6]:PORT, :PORT or PORT (the last two on 127.0.0.1). Port 0 picks a free port. */
const LISTEN = /^(?:(?:\[([^\]]*)\]|([^:[\]\s]*)):)?(\d+)$/;

export function parseListenAddress(text: string): ParsedListen {
  const shown = JSON.stringify(text);
  const m = LISTEN.exec(text.trim());
  const [, ipv6, host, portText] = m ?? [];
  if (!m || (ipv6 !== undefined && !net.isIPv6(ipv6)))
    return {
      ok: false,
      problem: `expected host:port such as 127.0.0.1:9464, [::1]:9464 or :9464 (an empty host means 127.0.0.1), got ${shown}`,
    };
  const port = Number(portText);
  if (port > 65535) return { ok: false, problem: `port ${portText} is out of range (0-65535), got ${shown}` };
  return { ok: true, address: { host: ipv6 ?? (host || LOOPBACK_HOST), port } };
}
