/**
 * The floor under a tls check: bare Node handshakes, in their own process, against the target the checks use. Each
 * connects afresh, verifies against the same CA (so Node reads the peer's chain, as it does for every verified
 * handshake) and closes; nothing is judged. Sends the CPU microseconds per handshake to its parent.
 *   node dist/bench/tls-handshakes.js PORT CA_FILE COUNT CONCURRENCY
 */
import { readFileSync } from 'node:fs';
import tls from 'node:tls';

const [port, caFile, count, concurrency] = process.argv.slice(2);
const context = tls.createSecureContext({ ca: readFileSync(caFile as string) });

function handshake(): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      { host: '127.0.0.1', port: Number(port), servername: 'localhost', secureContext: context },
      () => {
        socket.destroy();
        resolve();
      },
    );
    socket.once('error', reject);
  });
}

async function round(total: number): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next++ < total) await handshake();
  };
  await Promise.all(Array.from({ length: Number(concurrency) }, worker));
}

await round(Math.min(500, Number(count))); // warm-up
const cpu0 = process.cpuUsage();
await round(Number(count));
const cpu = process.cpuUsage(cpu0);
process.send?.({ cpuMicrosPerHandshake: (cpu.user + cpu.system) / Number(count) });
