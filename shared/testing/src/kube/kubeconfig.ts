import * as fs from 'node:fs';
import type { CertFiles } from './certs';

const b64 = (file: string) => fs.readFileSync(file).toString('base64');

/**
 * A self-contained kubeconfig (certificates inlined) for one user. Strings are written as JSON,
 * which is valid YAML, so no value needs escaping rules of its own.
 */
export function writeKubeconfig(
  file: string,
  server: string,
  caCert: string,
  user: string,
  client: CertFiles,
): string {
  const q = JSON.stringify;
  const yaml = `apiVersion: v1
kind: Config
clusters:
  - name: warren
    cluster:
      server: ${q(server)}
      certificate-authority-data: ${b64(caCert)}
users:
  - name: ${q(user)}
    user:
      client-certificate-data: ${b64(client.cert)}
      client-key-data: ${b64(client.key)}
contexts:
  - name: warren
    context:
      cluster: warren
      user: ${q(user)}
      namespace: default
current-context: warren
`;
  fs.writeFileSync(file, yaml, { mode: 0o600 });
  return file;
}
