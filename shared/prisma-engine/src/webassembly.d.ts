// The WebAssembly globals Node provides, as far as this package uses them (@types/node 20 has none).
declare namespace WebAssembly {
  type Exports = Record<string, unknown>;
  type ModuleImports = Record<string, unknown>;
  interface Instance {
    readonly exports: Exports;
  }
  function instantiate(
    bytes: Uint8Array,
    imports: Record<string, ModuleImports>,
  ): Promise<{ instance: Instance }>;
  class RuntimeError extends Error {}
}
