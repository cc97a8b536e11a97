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
}
