/** Injection tokens of the Nest module (classes are their own tokens where possible). */
export const WARREN_MESSAGING_OPTIONS = Symbol('WARREN_MESSAGING_OPTIONS');
export const WARREN_LOGGER = Symbol('WARREN_LOGGER');
export const HANDLE_EVENT_METADATA = 'warren:handle-event';
