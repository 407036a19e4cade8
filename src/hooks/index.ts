// Webhooks and the asynchronous task executor: what the controller needs to run
// the hooks and measurements the engine asks for without blocking a reconcile.
export * from './webhook.ts';
export * from './executor.ts';
export { redactWebhookUrl } from './redact.ts';
