// Alerts: what the controller needs to resolve AlertProviders, route an alert and deliver it.
export * from './message.ts';
export * from './config.ts';
export type { AlertProviderDriver, AlertRequest } from './driver.ts';
export { providerDrivers, driverFor } from './providers.ts';
export * from './delivery.ts';
export * from './metrics.ts';
export { createHttpTransport, TransportError } from './transport.ts';
export type { AlertTransport, TransportRequest, TransportResponse } from './transport.ts';
