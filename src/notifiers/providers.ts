import { AlertProviderTypes, type AlertProviderType } from '../api/index.ts';
import { isAlertProviderType } from './config.ts';
import { discord } from './discord.ts';
import type { AlertProviderDriver } from './driver.ts';
import { gchat } from './gchat.ts';
import { msteams } from './msteams.ts';
import { rocket } from './rocket.ts';
import { slack } from './slack.ts';
import { webhook } from './webhook.ts';

/** Every supported chat service, by AlertProvider `spec.type`. */
export const providerDrivers: Readonly<Record<AlertProviderType, AlertProviderDriver>> = {
  slack,
  msteams,
  discord,
  rocket,
  gchat,
  webhook,
};

export function driverFor(type: string): AlertProviderDriver {
  if (!isAlertProviderType(type)) {
    throw new Error(
      `alert provider type "${type}" is not supported; use one of ${AlertProviderTypes.join(', ')}`,
    );
  }
  return providerDrivers[type];
}
