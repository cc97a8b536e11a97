// tsconfig.worker.json checks the service workers (static/**/*-sw.js) with TypeScript's WebWorker
// library, whose `self` is any worker's scope: what a service worker adds, said once here.

interface WorkerGlobalScopeEventMap {
  install: ExtendableEvent;
  activate: ExtendableEvent;
  fetch: FetchEvent;
}

interface WorkerGlobalScope {
  readonly clients: Clients;
  skipWaiting(): Promise<void>;
  /** Put in by offline-sw.js, which both workers load with importScripts(). */
  keepOffline(worker: OfflineWorker): void;
}

// What a worker gives keepOffline().
interface OfflineWorker {
  /** The cache's name without its version ("passeport-mediation"): older versions are dropped. */
  cache: string;
  version: string;
  /** Kept at installation, which fails if one is missing. */
  required: string[];
  /** Kept at installation when they can be. */
  optional: string[];
  /** The paths it handles besides /static/ and /i18n/. */
  paths: string[];
}
