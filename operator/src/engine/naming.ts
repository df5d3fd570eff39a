/** The broker names Warren derives live in @warren/contracts, where the services and tools use them too. */
export * from '@warren/contracts/naming';
