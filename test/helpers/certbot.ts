/**
 * certbot's layout for tests: archive/<name>/{cert,chain,fullchain,privkey}N.pem, live/<name>/*.pem symlinks to
 * the current version, renewal/<name>.conf naming them. A renewal writes version N+1 and moves the symlinks, as
 * certbot does (nginx serves the old certificate until it is reloaded).
 */
import { mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createLeaf, daysFromNow, type Issued } from './pki.js';

export interface Lineage {
  name: string;
  /** live/<name>/fullchain.pem, as nginx's ssl_certificate names it. */
  fullchain: string;
  privkey: string;
  leaf: Issued;
}

/** Writes (or renews) the lineage `name` with a certificate from `ca` for `sans`. */
export async function certbotLineage(
  root: string,
  name: string,
  ca: Issued,
  sans: string[],
  days = 80,
): Promise<Lineage> {
  const leaf = await createLeaf(ca, { sans, notAfter: daysFromNow(days) });
  const archive = path.join(root, 'archive', name);
  const live = path.join(root, 'live', name);
  mkdirSync(archive, { recursive: true });
  mkdirSync(live, { recursive: true });
  const version = readdirSync(archive).filter((f) => f.startsWith('cert')).length + 1;
  const files = { cert: leaf.cert, chain: ca.cert, fullchain: leaf.cert + ca.cert, privkey: leaf.key };
  for (const [kind, pem] of Object.entries(files)) {
    writeFileSync(path.join(archive, `${kind}${version}.pem`), pem);
    const link = path.join(live, `${kind}.pem`);
    rmSync(link, { force: true });
    symlinkSync(path.join('..', '..', 'archive', name, `${kind}${version}.pem`), link);
  }
  mkdirSync(path.join(root, 'renewal'), { recursive: true });
  writeFileSync(
    path.join(root, 'renewal', `${name}.conf`),
    `# renew_before_expiry = 30 days
version = 2.9.0
archive_dir = ${archive}
cert = ${live}/cert.pem
privkey = ${live}/privkey.pem
chain = ${live}/chain.pem
fullchain = ${live}/fullchain.pem

[renewalparams]
account = 0123456789abcdef
authenticator = nginx
installer = nginx
server = https://acme-v02.api.letsencrypt.org/directory
`,
  );
  return { name, fullchain: path.join(live, 'fullchain.pem'), privkey: path.join(live, 'privkey.pem'), leaf };
}
