/**
 * The channel kinds forgewatch knows: config `type` -> the schema of its entry and how to build it. Adding a
 * channel is one file (schema, channel class, kind) plus one line here; the config and the service follow.
 */
import { z } from 'zod';
import { alertmanagerChannel } from './alertmanager.js';
import { emailChannel } from './email.js';
import { slackChannel } from './slack.js';
import { teamsChannel } from './teams.js';
import type { Channel, ChannelKind } from './types.js';
import { webhookChannel } from './webhook.js';

const channelKinds = {
  email: emailChannel,
  slack: slackChannel,
  webhook: webhookChannel,
  alertmanager: alertmanagerChannel,
  teams: teamsChannel,
};

type ChannelType = keyof typeof channelKinds;
export type ChannelConfig = { [T in ChannelType]: z.output<(typeof channelKinds)[T]['schema']> }[ChannelType];

const channelTypes = Object.keys(channelKinds) as [ChannelType, ...ChannelType[]];
const channelSchemas = Object.values(channelKinds).map((kind) => kind.schema) as [
  (typeof channelKinds)[ChannelType]['schema'],
  ...(typeof channelKinds)[ChannelType]['schema'][],
];

// The type is checked first so an unknown one is reported as such, not as a mismatch with every channel kind.
export const channelSchema: z.ZodType<ChannelConfig> = z
  .looseObject({ type: z.enum(channelTypes) })
  .pipe(z.discriminatedUnion('type', channelSchemas));

export function makeChannel(config: ChannelConfig): Channel {
  // The entry was validated by the schema registered under its type, so that kind's constructor takes it.
  const kind = channelKinds[config.type] as ChannelKind<z.ZodType<ChannelConfig>>;
  return kind.create(config);
}
