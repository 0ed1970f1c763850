import { z } from 'zod';

/** How bad an incident is; `critical` and `high` are the ones that usually reach users (docs/incident-response.md). */
export const incidentSeverities = ['low', 'medium', 'high', 'critical'] as const;
export type IncidentSeverity = (typeof incidentSeverities)[number];

export const incidentStatuses = ['investigating', 'contained', 'resolved', 'closed'] as const;
export type IncidentStatus = (typeof incidentStatuses)[number];

/**
 * The clocks an incident runs against: `controller` (tell affected tenants, configurable, default 24 h),
 * `gdpr_authority` (GDPR Art. 33: 72 h from awareness), `hipaa` (HIPAA breach notice: 60 days).
 */
export const incidentClocks = ['controller', 'gdpr_authority', 'hipaa'] as const;
export type IncidentClock = (typeof incidentClocks)[number];

const text = (max: number) => z.string().trim().min(1).max(max);
const isoTime = z.iso.datetime({ offset: true });

/** `POST /v1/platform/incidents`: a security officer opens an incident. */
export const incidentOpenRequest = z
  .object({
    title: text(200),
    description: text(10_000),
    severity: z.enum(incidentSeverities),
    /** When the operator became aware: every clock starts here. */
    awareAt: isoTime,
    /** Categories of personal data concerned (`contact`, `content`, `credentials`…). */
    dataCategories: z.array(text(60)).max(30).default([]),
    /** A general incident (an outage, a platform-wide issue) is published on the public feed. */
    general: z.boolean().default(false),
    /** The text of the public feed: no personal data. Required for a general incident. */
    publicSummary: text(2_000).optional(),
    /** Hours from awareness to notify affected tenants (controllers); default 24. */
    controllerTargetHours: z.number().int().min(1).max(72).optional(),
  })
  .strict()
  .meta({ id: 'IncidentOpenRequest' });

/** `PATCH /v1/platform/incidents/{id}`: status and texts as the investigation moves. */
export const incidentUpdateRequest = z
  .object({
    status: z.enum(['investigating', 'contained', 'resolved']).optional(),
    severity: z.enum(incidentSeverities).optional(),
    description: text(10_000).optional(),
    publicSummary: text(2_000).optional(),
  })
  .strict()
  .meta({ id: 'IncidentUpdateRequest' });

/** `POST /v1/platform/incidents/{id}/scope`: evidence to look for in every audit chain. */
export const incidentScopeRequest = z
  .object({
    from: isoTime,
    to: isoTime,
    sessionIds: z.array(z.string().min(1).max(100)).max(500).default([]),
    userIds: z.array(z.string().min(1).max(100)).max(500).default([]),
    ipAddresses: z
      .array(z.union([z.ipv4(), z.ipv6()]))
      .max(500)
      .default([]),
    clientId: z.string().min(1).max(200).optional(),
  })
  .strict()
  .meta({ id: 'IncidentScopeRequest' });

export const incidentAffectedTenant = z
  .object({
    tenantId: z.string(),
    userIds: z.array(z.string()),
    recordKinds: z.array(z.string()),
    entries: z.number().int(),
    notifiedAt: z.string().nullable(),
    rcaRequestedAt: z.string().nullable(),
  })
  .meta({ id: 'IncidentAffectedTenant' });

export const incidentScope = z
  .object({
    tenants: z.array(incidentAffectedTenant),
    users: z.number().int(),
    recordKinds: z.array(z.string()),
  })
  .meta({ id: 'IncidentScope' });

/** `POST /v1/platform/incidents/{id}/tenant-notices`: the Art. 33(3) content the e-mails carry. */
export const incidentTenantNoticeRequest = z
  .object({
    likelyConsequences: text(4_000),
    measures: text(4_000),
    contact: text(500),
    /** Required once the controller clock has passed. */
    delayReason: text(2_000).optional(),
  })
  .strict()
  .meta({ id: 'IncidentTenantNoticeRequest' });

/** `POST /v1/platform/incidents/{id}/user-notices`: what affected users are told (e-mail and in app). */
export const incidentUserNoticeRequest = z
  .object({
    message: text(4_000),
    /** Required once the HIPAA clock (60 days) has passed. */
    delayReason: text(2_000).optional(),
  })
  .strict()
  .meta({ id: 'IncidentUserNoticeRequest' });

/** `POST /v1/platform/incidents/{id}/authority-notification`: the supervisory authority was told (Art. 33). */
export const incidentAuthorityRequest = z
  .object({ notifiedAt: isoTime, reference: text(200).optional(), delayReason: text(2_000).optional() })
  .strict()
  .meta({ id: 'IncidentAuthorityRequest' });

export const noticeOutcome = z
  .object({ sent: z.number().int(), alreadySent: z.number().int() })
  .meta({ id: 'IncidentNoticeOutcome' });

export const incidentActionRequest = z
  .object({ description: text(2_000), dueAt: isoTime.optional() })
  .strict()
  .meta({ id: 'IncidentActionRequest' });

export const incidentRcaRequest = z
  .object({ text: text(50_000) })
  .strict()
  .meta({ id: 'IncidentRcaRequest' });

export const incidentAction = z
  .object({
    id: z.string(),
    description: z.string(),
    dueAt: z.string().nullable(),
    doneAt: z.string().nullable(),
  })
  .meta({ id: 'IncidentAction' });

export const incidentClockState = z
  .object({
    clock: z.enum(incidentClocks),
    deadline: z.string(),
    metAt: z.string().nullable(),
    overdue: z.boolean(),
    delayReason: z.string().nullable(),
  })
  .meta({ id: 'IncidentClockState' });

/** An incident as the security officer sees it. */
export const incident = z
  .object({
    id: z.string(),
    title: z.string(),
    description: z.string(),
    severity: z.enum(incidentSeverities),
    status: z.enum(incidentStatuses),
    awareAt: z.string(),
    dataCategories: z.array(z.string()),
    general: z.boolean(),
    publicSummary: z.string().nullable(),
    clocks: z.array(incidentClockState),
    actions: z.array(incidentAction),
    rcaAttached: z.boolean(),
    closedAt: z.string().nullable(),
    createdAt: z.string(),
  })
  .meta({ id: 'Incident' });

export const incidentList = z.object({ incidents: z.array(incident) }).meta({ id: 'IncidentList' });

/** An incident as an affected tenant sees it: its own scope only, no other tenant named. */
export const tenantIncident = z
  .object({
    id: z.string(),
    title: z.string(),
    severity: z.enum(incidentSeverities),
    status: z.enum(incidentStatuses),
    awareAt: z.string(),
    dataCategories: z.array(z.string()),
    affectedUsers: z.number().int(),
    recordKinds: z.array(z.string()),
    notifiedAt: z.string().nullable(),
    rcaAvailable: z.boolean(),
    rcaRequestedAt: z.string().nullable(),
  })
  .meta({ id: 'TenantIncident' });

export const tenantIncidentList = z
  .object({ incidents: z.array(tenantIncident) })
  .meta({ id: 'TenantIncidentList' });

export const incidentRca = z
  .object({ incidentId: z.string(), text: z.string(), attachedAt: z.string() })
  .meta({ id: 'IncidentRca' });

/** An in-app incident notice for the signed-in user. */
export const incidentUserNotice = z
  .object({ id: z.string(), incidentId: z.string(), message: z.string(), createdAt: z.string() })
  .meta({ id: 'IncidentUserNotice' });

export const incidentUserNoticeList = z
  .object({ notices: z.array(incidentUserNotice) })
  .meta({ id: 'IncidentUserNoticeList' });

/** One entry of the public feed of general incidents: no personal data, no tenant named. */
export const publicIncident = z
  .object({
    id: z.string(),
    title: z.string(),
    summary: z.string(),
    severity: z.enum(incidentSeverities),
    status: z.enum(incidentStatuses),
    startedAt: z.string(),
    updatedAt: z.string(),
  })
  .meta({ id: 'PublicIncident' });

export const publicIncidentFeed = z
  .object({ incidents: z.array(publicIncident) })
  .meta({ id: 'PublicIncidentFeed' });
