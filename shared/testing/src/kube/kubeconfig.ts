import * as fs from 'node:fs';
import type { CertFiles } from './certs';

const b64 = (file: string) => fs.readFileSync(file).toString('base64');

/**
 * A self-contained kubeconfig (certificates inlined) for one user, written as JSON: JSON is
 * YAML, so kubectl and Helm read it, and the operator parses it without loading a YAML parser.
 */
export function writeKubeconfig(
  file: string,
  server: string,
  caCert: string,
  user: string,
  client: CertFiles,
): string {
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'warren', cluster: { server, 'certificate-authority-data': b64(caCert) } }],
    users: [
      {
        name: user,
        user: {
          'client-certificate-data': b64(client.cert),
          'client-key-data': b64(client.key),
        },
      },
    ],
    contexts: [{ name: 'warren', context: { cluster: 'warren', user, namespace: 'default' } }],
    'current-context': 'warren',
  };
  fs.writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  return file;
}
