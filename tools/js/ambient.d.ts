// What the browser scripts in static/banner/ use beyond TypeScript's DOM library: only for
// `tsc --checkJs` (see jsconfig.json); nothing here is shipped.

interface Navigator {
  /** Global Privacy Control (https://w3c.github.io/gpc/): not in TypeScript's DOM library yet. */
  readonly globalPrivacyControl?: boolean;
}

interface ErrorConstructor {
  /** V8's stack trace hooks (Chromium, Node): guard.js reads and restores them. */
  prepareStackTrace?: ((error: Error, frames: unknown[]) => unknown) | undefined;
  stackTraceLimit: number;
}

interface Window {
  /** User-Agent Client Hints (Chromium only): guard.js blanks its high-entropy values. */
  readonly NavigatorUAData?: { readonly prototype: object };
  /** The gate's scripts meet under Symbol.for() keys (their values are typed where read). */
  [key: symbol]: unknown;
  /** banner.js's public API (see its header). */
  consentGate?: object;
}
