import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { KubeError } from './proc';

const execFileAsync = promisify(execFile);

/** PEM file paths of one certificate and its key. */
export interface CertFiles {
  cert: string;
  key: string;
}

/**
 * Node's crypto cannot issue X.509 certificates, the openssl CLI can (1.1.1 and 3.x alike).
 * Keys are EC P-256: fast to make, accepted by Go and Node.
 */
async function openssl(args: string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', args, { cwd });
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT')
      throw new KubeError(
        'the openssl command is needed to make the control plane certificates: install openssl',
      );
    throw new KubeError(`openssl ${args[0]} failed: ${err.stderr ?? err.message}`);
  }
}

const keyArgs = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

/** Writes a minimal config so the system openssl.cnf (which varies) never adds extensions. */
function writeConfig(dir: string, name: string, extensions: string[]): string {
  const file = path.join(dir, `${name}.cnf`);
  const body = ['[req]', 'distinguished_name = dn', '[dn]', '[ext]', ...extensions, ''].join('\n');
  fs.writeFileSync(file, body);
  return file;
}

export async function createCa(dir: string): Promise<CertFiles> {
  const files = { cert: path.join(dir, 'ca.crt'), key: path.join(dir, 'ca.key') };
  const config = writeConfig(dir, 'ca', [
    'basicConstraints = critical, CA:TRUE',
    'keyUsage = critical, keyCertSign, cRLSign, digitalSignature',
    'subjectKeyIdentifier = hash',
  ]);
  await openssl(
    [
      'req',
      '-x509',
      ...keyArgs,
      '-keyout',
      files.key,
      '-out',
      files.cert,
      '-days',
      '3650',
      '-subj',
      '/CN=warren-test-ca',
      '-config',
      config,
      '-extensions',
      'ext',
    ],
    dir,
  );
  return files;
}

/** A leaf certificate signed by the CA: `subject` like /CN=alice/O=team. */
export async function issueCert(
  ca: CertFiles,
  dir: string,
  name: string,
  subject: string,
  extensions: string[],
): Promise<CertFiles> {
  const files = { cert: path.join(dir, `${name}.crt`), key: path.join(dir, `${name}.key`) };
  const csr = path.join(dir, `${name}.csr`);
  const config = writeConfig(dir, name, [
    'basicConstraints = critical, CA:FALSE',
    'keyUsage = critical, digitalSignature',
    ...extensions,
  ]);
  await openssl(
    [
      'req',
      '-new',
      ...keyArgs,
      '-keyout',
      files.key,
      '-out',
      csr,
      '-subj',
      subject,
      '-config',
      config,
    ],
    dir,
  );
  await openssl(
    [
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '365',
      '-out',
      files.cert,
      '-extfile',
      config,
      '-extensions',
      'ext',
    ],
    dir,
  );
  fs.rmSync(csr);
  return files;
}

/** `extraSans` like `IP:10.0.2.2` or `DNS:kubernetes.default.svc`. */
export const servingCert = (ca: CertFiles, dir: string, extraSans: string[] = []) =>
  issueCert(ca, dir, 'serving', '/CN=kube-apiserver', [
    'extendedKeyUsage = serverAuth',
    `subjectAltName = ${['IP:127.0.0.1', 'DNS:localhost', ...extraSans].join(', ')}`,
  ]);

/** Kubernetes reads the user from CN and the groups from every O. */
export function clientCert(
  ca: CertFiles,
  dir: string,
  user: string,
  groups: string[],
): Promise<CertFiles> {
  const escape = (value: string) => value.replace(/[/\\+,=]/g, (c) => `\\${c}`);
  const subject = `/CN=${escape(user)}${groups.map((group) => `/O=${escape(group)}`).join('')}`;
  const fileName = `user-${user.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
  return issueCert(ca, dir, fileName, subject, ['extendedKeyUsage = clientAuth']);
}

/** The key pair the API server signs and verifies service-account tokens with. */
export function serviceAccountKey(dir: string): CertFiles {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve: 'prime256v1',
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  const files = { cert: path.join(dir, 'sa.pub'), key: path.join(dir, 'sa.key') };
  fs.writeFileSync(files.key, privateKey, { mode: 0o600 });
  fs.writeFileSync(files.cert, publicKey);
  return files;
}
