/** The CLI's own error for bad flags; where the broker is comes from broker/settings.ts. */
export { brokerSettings, defaultVhost, type BrokerSettings } from '../broker/settings';

export class UsageError extends Error {
  override name = 'UsageError';
}
