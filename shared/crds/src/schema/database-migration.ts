import type { ResourceDefinition } from './crd';
import { ageColumn, readyColumn, reasonColumn } from './crd';
import {
  array,
  conditions,
  duration,
  integer,
  object,
  objectName,
  observedGeneration,
  serviceName,
  string,
} from './openapi';

/** A Kubernetes resource quantity ("250m", "1", "512Mi", "1.5Gi"). */
const quantity = (description: string) =>
  string(description, {
    pattern: '^([0-9]+(\\.[0-9]+)?|\\.[0-9]+)(m|k|M|G|T|Ki|Mi|Gi|Ti)?$',
    maxLength: 32,
  });

const computeResources = (description: string) =>
  object(description, {
    cpu: quantity('CPU, e.g. "250m" or "1".'),
    memory: quantity('Memory, e.g. "256Mi" or "1Gi".'),
  });

export const databaseMigration: ResourceDefinition = {
  kind: 'DatabaseMigration',
  plural: 'databasemigrations',
  singular: 'databasemigration',
  shortNames: ['dbm'],
  description:
    "A service's Prisma migrations to apply to its database, run by the operator as a Kubernetes Job (`prisma migrate deploy`) whenever the input (image, migrations path, database) changes, one Job at a time per database.",
  spec: object(
    'What to migrate and with what.',
    {
      service: serviceName('The service whose database this is.'),
      image: string(
        "Container image holding the service and its prisma/ folder (built from services/Dockerfile: the working directory is the service's folder, holding prisma.config.ts).",
        {
          minLength: 1,
          maxLength: 1024,
        },
      ),
      migrationsPath: string(
        'Path of the Prisma schema folder inside the image, relative to its working directory: the Job runs `prisma migrate deploy --schema <migrationsPath>`, which reads the migrations from `<migrationsPath>/migrations`.',
        {
          minLength: 1,
          maxLength: 1024,
          default: 'prisma',
        },
      ),
      database: object(
        'Where the database connection URL comes from.',
        {
          secretRef: object(
            'A Secret in the same namespace holding the PostgreSQL connection URL. The Job reads it through a secretKeyRef; the operator reads it to tell databases apart (two migrations whose URLs name the same host, port, database and schema never run at once) and to read `_prisma_migrations`.',
            {
              name: objectName('Secret name.'),
              key: string('Key of the URL in the Secret.', {
                pattern: '^[-._a-zA-Z0-9]+$',
                maxLength: 253,
                default: 'DATABASE_URL',
              }),
            },
            { required: ['name'] },
          ),
        },
        { required: ['secretRef'] },
      ),
      job: object(
        "How the migration Job's pod runs. Part of the input: a change runs `prisma migrate deploy` again (with nothing pending it only checks), and lets a Stalled migration try again.",
        {
          timeout: duration(
            "Longest a run may take (the Job's activeDeadlineSeconds): a run still going after it fails, and frees the database for the next one. Between 1m and 24h.",
            { default: '1h' },
          ),
          serviceAccountName: objectName(
            "ServiceAccount the pod runs as, e.g. one carrying imagePullSecrets or a cloud identity for the database. No API token is mounted. Default: the namespace's `default`.",
          ),
          imagePullSecrets: array(
            'Secrets (type kubernetes.io/dockerconfigjson) for pulling `image` from a private registry.',
            objectName('Secret name.'),
            { maxItems: 16, 'x-kubernetes-list-type': 'set' },
          ),
          resources: object(
            'CPU and memory of the `migrate` container; each value set replaces the default (requests cpu 100m, memory 192Mi; limits cpu 1, memory 512Mi).',
            {
              requests: computeResources('Guaranteed to the container.'),
              limits: computeResources('The most the container may use.'),
            },
          ),
        },
        {
          default: { timeout: '1h' },
          'x-kubernetes-validations': [
            {
              rule: "duration(self.timeout) >= duration('1m') && duration(self.timeout) <= duration('24h')",
              message: 'timeout must be between 1m and 24h',
              fieldPath: '.timeout',
            },
          ],
        },
      ),
      backoffLimit: integer(
        'Failed Job runs of the same input tolerated before the migration is Stalled (BackoffLimitExceeded): at most backoffLimit + 1 runs, with a growing delay between them. A changed input, or a higher limit, runs again.',
        {
          minimum: 0,
          maximum: 20,
          default: 3,
        },
      ),
    },
    { required: ['service', 'image', 'database'] },
  ),
  status: object('Observed state, written by the operator.', {
    observedGeneration: observedGeneration(),
    conditions: conditions(),
    appliedMigrations: array(
      'Migrations recorded as applied in the database (`_prisma_migrations` rows that finished and were not rolled back), oldest first, as the operator last read them.',
      object(
        'One applied migration.',
        {
          name: string('Migration folder name.', { maxLength: 1024 }),
          appliedAt: string('When it finished.', { format: 'date-time' }),
        },
        { required: ['name'] },
      ),
      { maxItems: 4096, 'x-kubernetes-list-type': 'atomic' },
    ),
    lastJobName: string('The last Job the operator ran.', { maxLength: 253 }),
    failures: integer('Consecutive failed runs of the last input run.', { minimum: 0 }),
    inputHash: string(
      'Hash of the input last applied successfully (image, migrationsPath, Secret reference and a hash of the database URL); an unchanged input is not run again.',
      {
        maxLength: 128,
      },
    ),
  }),
  printerColumns: [
    { name: 'Service', type: 'string', jsonPath: '.spec.service', description: 'Service.' },
    { name: 'Image', type: 'string', jsonPath: '.spec.image', description: 'Image.', priority: 1 },
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
};
