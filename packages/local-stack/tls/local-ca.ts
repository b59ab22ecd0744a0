import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '@aurora-haproxy/contract/error-message';
import { isAlive } from '../process/managed-process';
import { removeTree } from '../process/remove-tree';

/**
 * A certificate authority the local stack generates with openssl, standing in for the RDS CA
 * bundle (or, with another name, for "some other CA" in the tests that a reader must not be
 * trusted with). EC P-256 keys: a certificate costs a few milliseconds, so every node gets
 * its own. Files live in one directory readable by user postgres (PostgreSQL and PgBouncer
 * read them); each private key is owned by its reader and mode 0600, as PostgreSQL requires.
 */
export interface IssuedCertificate {
  certFile: string;
  keyFile: string;
}

export interface CertificateRequest {
  /** File name stem, unique in the output directory. */
  name: string;
  /** Where the certificate and key go (created 0755); the CA's directory by default. */
  outDir?: string;
  /** subjectAltName DNS entries (the first is also the CN). */
  dnsNames: readonly string[];
  /** subjectAltName IP entries. */
  ips: readonly string[];
  /** uid/gid owning the key (PostgreSQL refuses a key it does not own or others can read). */
  owner?: { uid: number; gid: number };
}

const OPENSSL = '/usr/bin/openssl';
const NAME = /^[A-Za-z0-9_.-]{1,100}$/;
const DNS_NAME = /^[A-Za-z0-9.-]{1,253}$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

export class LocalCa {
  readonly caFile: string;
  private readonly caKey: string;

  private constructor(
    readonly dir: string,
    readonly subject: string,
  ) {
    this.caFile = join(dir, 'ca.pem');
    this.caKey = join(dir, 'ca.key');
  }

  /** A new CA in `dir` (created 0755), its certificate valid for 2 days. */
  static create(dir: string, subject = 'aurora-haproxy local RDS CA'): LocalCa {
    if (!/^[A-Za-z0-9 ._-]{1,64}$/.test(subject)) throw new Error(`bad CA subject "${subject}"`);
    mkdirSync(dir, { recursive: true });
    chmodSync(dir, 0o755);
    const ca = new LocalCa(dir, subject);
    if (!existsSync(ca.caFile)) {
      openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', ca.caKey]);
      chmodSync(ca.caKey, 0o600);
      openssl([
        'req',
        '-x509',
        '-new',
        '-key',
        ca.caKey,
        '-subj',
        `/CN=${subject}`,
        '-days',
        '2',
        '-out',
        ca.caFile,
      ]);
      chmodSync(ca.caFile, 0o644);
    }
    return ca;
  }

  /** The CA certificate (PEM), what a client trusts. */
  pem(): Buffer {
    return readFileSync(this.caFile);
  }

  /** A server certificate signed by this CA with the given subjectAltName entries. */
  issue(request: CertificateRequest): IssuedCertificate {
    if (!NAME.test(request.name)) throw new Error(`bad certificate name "${request.name}"`);
    for (const d of request.dnsNames)
      if (!DNS_NAME.test(d)) throw new Error(`bad DNS name "${d}" for a certificate`);
    for (const ip of request.ips)
      if (!IPV4.test(ip)) throw new Error(`bad IP address "${ip}" for a certificate`);
    const san = [...request.dnsNames.map((d) => `DNS:${d}`), ...request.ips.map((i) => `IP:${i}`)];
    if (san.length === 0) throw new Error(`certificate ${request.name} names nothing`);
    const outDir = request.outDir ?? this.dir;
    mkdirSync(outDir, { recursive: true });
    chmodSync(outDir, 0o755);
    const f = (ext: string) => join(outDir, `${request.name}.${ext}`);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', f('key')]);
    const cn = request.dnsNames[0] ?? request.ips[0];
    openssl(['req', '-new', '-key', f('key'), '-subj', `/CN=${cn}`, '-out', f('csr')]);
    writeFileSync(
      f('ext'),
      `subjectAltName = ${san.join(',')}\nextendedKeyUsage = serverAuth\nbasicConstraints = CA:FALSE\n`,
    );
    openssl([
      'x509',
      '-req',
      '-in',
      f('csr'),
      '-CA',
      this.caFile,
      '-CAkey',
      this.caKey,
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      f('ext'),
      '-out',
      f('pem'),
    ]);
    chmodSync(f('pem'), 0o644);
    chmodSync(f('key'), 0o600);
    if (request.owner) chownSync(f('key'), request.owner.uid, request.owner.gid);
    return { certFile: f('pem'), keyFile: f('key') };
  }
}

function openssl(args: string[]): void {
  try {
    execFileSync(OPENSSL, args, { stdio: 'pipe' });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '').trim();
    throw new Error(`openssl ${args[0]} failed: ${stderr || errorMessage(error)}`, {
      cause: error,
    });
  }
}

let shared: LocalCa | undefined;
const PROCESS_CA_PREFIX = 'aurora-haproxy-ca-';

/**
 * The process CAs of processes that are gone: a vitest worker ended by its pool never runs its
 * exit hook (below), so each run used to leave its workers' CA directories in the temp dir.
 */
function reapStaleProcessCas(): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith(PROCESS_CA_PREFIX)) continue;
    const pid = Number(name.slice(PROCESS_CA_PREFIX.length));
    if (Number.isInteger(pid) && pid > 0 && !isAlive(pid)) removeTree(join(tmpdir(), name));
  }
}

/**
 * One CA for every simulated cluster this process starts without a CA of its own (tests and
 * benchmarks that wire PostgreSQL, HAProxy, PgBouncer and the daemon by hand), so each of
 * them can trust it without passing paths around; removed when the process exits.
 */
export function processCa(): LocalCa {
  if (!shared) {
    reapStaleProcessCas();
    const dir = join(tmpdir(), `${PROCESS_CA_PREFIX}${process.pid}`);
    rmSync(dir, { recursive: true, force: true });
    shared = LocalCa.create(dir, 'aurora-haproxy test RDS CA');
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return shared;
}
