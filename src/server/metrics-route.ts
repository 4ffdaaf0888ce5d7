/** GET /metrics: the exposition sent as it is written, compressed when the scraper asks for gzip as Prometheus does. */
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { NextFunction, Request, Response } from 'express';
import type { Metrics } from '../metrics/registry.js';

/**
 * Level 1: most of the size saving at a fraction of the default level's time. Compressed on the thread pool, chunk
 * by chunk as the text is copied, with output chunks as large as the input's so few round trips are needed.
 */
const GZIP_OPTIONS = { level: 1, chunkSize: 256 * 1024 };

async function gzipped(chunks: Iterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks, { highWaterMark: 1 }),
    createGzip(GZIP_OPTIONS),
    async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) out.push(chunk);
    },
  );
  return out;
}

export function metricsRoute(metrics: Metrics) {
  return async (req: Request, res: Response, next: NextFunction): Promise<void> => {
    try {
      const body = await metrics.body();
      // Prometheus asks for gzip; the text of thousands of checks is megabytes that shrink about tenfold.
      const gzip = req.acceptsEncodings('gzip', 'identity') === 'gzip';
      res.set('Content-Type', metrics.contentType).set('Vary', 'Accept-Encoding');
      // Sent without express's send(), which would hash megabytes into an ETag no scraper uses.
      if (gzip) {
        const compressed = await gzipped(body.chunks());
        res.set('Content-Encoding', 'gzip');
        res.set('Content-Length', String(compressed.reduce((sum, c) => sum + c.length, 0)));
        await pipeline(Readable.from(compressed), res);
      } else {
        res.set('Content-Length', String(body.byteLength));
        await pipeline(Readable.from(body.chunks()), res);
      }
    } catch (err) {
      if (res.headersSent) res.destroy(err as Error);
      else next(err);
    }
  };
}
