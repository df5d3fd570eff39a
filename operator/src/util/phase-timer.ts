/** Milliseconds spent in each named phase of one pass, for the log line that ends it. */
export function phaseTimer() {
  const phases: Record<string, number> = {};
  let last = Date.now();
  return {
    mark(name: string) {
      const now = Date.now();
      phases[name] = (phases[name] ?? 0) + now - last;
      last = now;
    },
    done(): Record<string, number> {
      return { ...phases };
    },
  };
}
