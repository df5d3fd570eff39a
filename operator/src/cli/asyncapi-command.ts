/** `warren asyncapi`: the AsyncAPI 3.0 document of the declared events (YAML; JSON with -o json). */
import { stringify } from 'yaml';
import { asyncApiDocument } from '../engine/asyncapi';
import { NoBrokerError } from '../broker/settings';
import { compile } from '../engine/compile';
import type { CommandOptions, Output } from './commands';
import { EXIT, print } from './commands';
import { UsageError } from './connection';
import { formatErrors } from './format';
import { retryPoliciesOf, routesOf } from './load';

/** The broker's AMQP URL when one is configured (flags or env); the document never holds its credentials. */
async function brokerUrlOf(options: CommandOptions): Promise<string | undefined> {
  try {
    return (await options.broker()).amqpUrl;
  } catch (error) {
    if (error instanceof NoBrokerError) return undefined;
    throw error;
  }
}

export async function asyncapiCommand(options: CommandOptions, io: Output): Promise<number> {
  const loaded = await options.resources();
  if (loaded.errors.length > 0) {
    io.err(formatErrors(loaded.errors));
    return EXIT.error;
  }
  const desired = compile(routesOf(loaded.resources), retryPoliciesOf(loaded.resources), {
    defaultVhost: options.defaultVhost(),
  });
  if (options.service && !desired.services.some((s) => s.service === options.service))
    throw new UsageError(`no EventRoute names service "${options.service}" as source or consumer`);
  const document = asyncApiDocument(desired, {
    service: options.service,
    brokerUrl: await brokerUrlOf(options),
  });
  // The document is YAML by nature: text and yaml print the same.
  print(io, options, document, () => stringify(document).trimEnd());
  return EXIT.ok;
}
