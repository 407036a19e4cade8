import { Type, type Static } from '@sinclair/typebox';
import { ALERT_PROVIDER_KIND, API_VERSION } from './constants.ts';
import {
  HttpUrl,
  ObjectMetaSchema,
  ObjectName,
  StringEnum,
  celRules,
  conditionsStatus,
} from './schema-helpers.ts';
import { ConditionSchema } from './status.ts';

// AlertProvider: a chat or webhook destination for alerts about canaries.

/** Flagger's five chat services plus `webhook`, a generic JSON POST of the alert. */
export const AlertProviderTypes = ['slack', 'msteams', 'discord', 'rocket', 'gchat', 'webhook'] as const;
export type AlertProviderType = (typeof AlertProviderTypes)[number];

export const AlertProviderSpecSchema = Type.Object(
  {
    type: StringEnum(AlertProviderTypes, { description: 'Destination service.' }),
    address: Type.Optional(
      HttpUrl('spec.address', 'Incoming-webhook URL. Prefer secretRef: the URL is a secret.'),
    ),
    secretRef: Type.Optional(
      Type.Object(
        { name: ObjectName('Secret in the provider namespace.') },
        {
          description:
            'Secret with keys address, token, username, channel and proxy; each one present overrides the spec field.',
        },
      ),
    ),
    channel: Type.Optional(
      Type.String({ maxLength: 256, description: 'Channel to post to, where the service allows it.' }),
    ),
    username: Type.Optional(
      Type.String({
        maxLength: 256,
        description: 'Display name of the sender, where allowed; default fledge.',
      }),
    ),
    proxy: Type.Optional(HttpUrl('spec.proxy', 'HTTP(S) proxy for the outgoing request.')),
  },
  {
    description: 'Destination of alerts.',
    ...celRules({
      rule: 'has(self.address) || has(self.secretRef)',
      message: "set spec.address or spec.secretRef (a Secret with key 'address', or 'token' for a Slack bot)",
      fieldPath: '.secretRef',
      reason: 'FieldValueRequired',
    }),
  },
);
export type AlertProviderSpec = Static<typeof AlertProviderSpecSchema>;

export const AlertProviderStatusSchema = conditionsStatus(ConditionSchema);
export type AlertProviderStatus = Static<typeof AlertProviderStatusSchema>;

export const AlertProviderSchema = Type.Object(
  {
    apiVersion: Type.Literal(API_VERSION),
    kind: Type.Literal(ALERT_PROVIDER_KIND),
    metadata: ObjectMetaSchema,
    spec: AlertProviderSpecSchema,
    status: Type.Optional(AlertProviderStatusSchema),
  },
  { description: 'Where alerts about canaries are sent.' },
);
export type AlertProvider = Static<typeof AlertProviderSchema>;
