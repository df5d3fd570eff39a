import type { ResourceDefinition } from './crd';
import { ageColumn, readyColumn, reasonColumn } from './crd';
import {
  array,
  conditions,
  integer,
  object,
  objectName,
  observedGeneration,
  serviceName,
  string,
} from './openapi';

export const databaseMigration: ResourceDefinition = {
  kind: 'DatabaseMigration',
  plural: 'databasemigrations',
  singular: 'databasemigration',
  shortNames: ['dbm'],
  description:
    "A service's Prisma migrations to apply to its database, run by the operator as a Kubernetes Job (`prisma migrate deploy`), one at a time per database.",
  spec: object(
    'What to migrate and with what.',
    {
      service: serviceName('The service whose database this is.'),
      image: string('Container image holding the service and its prisma/ folder.', {
        minLength: 1,
        maxLength: 1024,
      }),
      migrationsPath: string('Path of the Prisma schema folder inside the image.', {
        minLength: 1,
        maxLength: 1024,
        default: 'prisma',
      }),
      database: object(
        'Where the database connection URL comes from.',
        {
          secretRef: object(
            'A Secret in the same namespace holding the PostgreSQL connection URL.',
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
      backoffLimit: integer('Failed Job runs tolerated before the migration is Stalled.', {
        minimum: 0,
        maximum: 20,
        default: 3,
      }),
    },
    { required: ['service', 'image', 'database'] },
  ),
  status: object('Observed state, written by the operator.', {
    observedGeneration: observedGeneration(),
    conditions: conditions(),
    appliedMigrations: array(
      'Migrations recorded as applied in the database, oldest first.',
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
    failures: integer('Consecutive failed runs.', { minimum: 0 }),
    inputHash: string('Hash of the spec last applied; unchanged input is not run again.', {
      maxLength: 128,
    }),
  }),
  printerColumns: [
    { name: 'Service', type: 'string', jsonPath: '.spec.service', description: 'Service.' },
    { name: 'Image', type: 'string', jsonPath: '.spec.image', description: 'Image.', priority: 1 },
    readyColumn,
    reasonColumn,
    ageColumn,
  ],
};
