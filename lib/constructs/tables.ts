import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import {
  EVENT_TYPES_TABLE,
  HEALTH_ITEM_PREFIX,
  NOTIFICATION_INDEX_PROJECTION,
  NOTIFICATIONS_TABLE,
  PARKED_INDEX_PROJECTION,
  PAYLOADS_TABLE,
  SUBJECT_KEYS_TABLE,
  WEBHOOKS_TABLE,
} from '../../lambdas/adapters/dynamo-schema';
import { ENV } from '../../lambdas/config';
import { ENVELOPE_CONTEXT_KEY, ENVELOPE_CONTEXT_VALUE } from '../../lambdas/core/crypto/envelope';

type Grantee = iam.IGrantable & IConstruct;

/** Item reads of a table and its indexes (CDK's grantReadData, without streams). */
const TABLE_READ_ACTIONS = [
  'dynamodb:BatchGetItem',
  'dynamodb:Query',
  'dynamodb:GetItem',
  'dynamodb:Scan',
  'dynamodb:ConditionCheckItem',
  'dynamodb:DescribeTable',
];
const TABLE_WRITE_ACTIONS = [
  'dynamodb:BatchWriteItem',
  'dynamodb:PutItem',
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
];

export interface TablesProps {
  /** Removal policy of the five tables and their key. Default RETAIN. */
  readonly removalPolicy?: RemovalPolicy;
  /** Table class of Payloads (write-once, rarely read). Default STANDARD_INFREQUENT_ACCESS. */
  readonly payloadsTableClass?: dynamodb.TableClass;
}

/**
 * Webhooks (definitions, with their secrets), Notifications (status, attempts, resend jobs)
 * and Payloads (the rendered requests, write-once). On-demand, point-in-time recovery, one
 * customer-managed key. Retention by TTL on `expiresAt` (set by the writers from RETENTION_DAYS).
 */
export class Tables extends Construct {
  /**
   * The one customer-managed key: the tables, the envelope-sealed secrets (webhook secrets,
   * subject keys, the pagination-cursor secret) and the alarm topic.
   */
  readonly key: kms.Key;
  readonly webhooks: dynamodb.Table;
  readonly notifications: dynamodb.Table;
  readonly payloads: dynamodb.Table;
  /** The event-type catalogue (GET /event-types), written by ingestion at most once a minute per type. */
  readonly eventTypes: dynamodb.Table;
  /** Per-subject keys (erasure by subject) and erasure audit entries. */
  readonly subjectKeys: dynamodb.Table;
  /** What each principal was granted on the key through DynamoDB, so each gets one statement. */
  private readonly keyAccess = new Map<iam.IPrincipal, 'read' | 'write'>();

  constructor(scope: Construct, id: string, props: TablesProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    this.key = new kms.Key(this, 'DataKey', {
      description: 'Webhooks tables: definitions (secrets), history, rendered requests',
      enableKeyRotation: true,
      removalPolicy,
      pendingWindow: Duration.days(30),
    });
    const common = {
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
      encryptionKey: this.key,
      removalPolicy,
    };

    this.webhooks = new dynamodb.Table(this, 'WebhooksTable', {
      ...common,
      partitionKey: { name: WEBHOOKS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      // Only tombstones of deleted webhooks carry it (kept while their history is retained).
      timeToLiveAttribute: WEBHOOKS_TABLE.ttlAttribute,
    });

    this.notifications = new dynamodb.Table(this, 'NotificationsTable', {
      ...common,
      partitionKey: { name: NOTIFICATIONS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: NOTIFICATIONS_TABLE.ttlAttribute,
    });
    for (const index of [NOTIFICATIONS_TABLE.byWebhookIndex, NOTIFICATIONS_TABLE.byStatusIndex]) {
      this.notifications.addGlobalSecondaryIndex({
        indexName: index.name,
        partitionKey: { name: index.partitionKey, type: dynamodb.AttributeType.STRING },
        sortKey: { name: index.sortKey, type: dynamodb.AttributeType.STRING },
        projectionType: dynamodb.ProjectionType.INCLUDE,
        nonKeyAttributes: [...NOTIFICATION_INDEX_PROJECTION],
      });
    }
    // Sparse: only parked notifications (destination health) carry its partition key.
    const parked = NOTIFICATIONS_TABLE.byParkedIndex;
    this.notifications.addGlobalSecondaryIndex({
      indexName: parked.name,
      partitionKey: { name: parked.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: parked.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.INCLUDE,
      nonKeyAttributes: [...PARKED_INDEX_PROJECTION],
    });

    this.payloads = new dynamodb.Table(this, 'PayloadsTable', {
      ...common,
      partitionKey: { name: PAYLOADS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: PAYLOADS_TABLE.ttlAttribute,
      // Storage is most of what this table costs over a long retention: see README "What it costs".
      tableClass: props.payloadsTableClass ?? dynamodb.TableClass.STANDARD_INFREQUENT_ACCESS,
    });

    this.eventTypes = new dynamodb.Table(this, 'EventTypesTable', {
      ...common,
      partitionKey: { name: EVENT_TYPES_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
    });
    // No point-in-time recovery here: a destroyed subject key must not be restorable from a
    // continuous backup, or an erasure would not be final. The keys are wrapped (envelope).
    this.subjectKeys = new dynamodb.Table(this, 'SubjectKeysTable', {
      ...common,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: false },
      partitionKey: { name: SUBJECT_KEYS_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
    });
    Validations.of(this.subjectKeys).acknowledge({
      id: 'AwsSolutions-DDB3',
      reason:
        'Erasure destroys subject keys; point-in-time recovery would keep them restorable for 35 days.',
    });
  }

  /** Subject keys: the delivery Lambda makes them (transactional create), readers open them. */
  grantSubjectKeys(grantee: Grantee, use: 'create' | 'read' | 'erase'): void {
    const actions =
      use === 'create'
        ? ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:ConditionCheckItem']
        : use === 'read'
          ? ['dynamodb:GetItem']
          : ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'];
    this.subjectKeys.grant(grantee, ...actions);
    this.grantKeyThroughDynamo(grantee, use === 'read' ? 'read' : 'write');
  }

  /** Read/write on Notifications (items, resend jobs) and query on its indexes. */
  /** What every Lambda's loadStoreConfig (lambdas/config.ts) reads: table names and the queue. */
  storeEnvironment(queue: sqs.IQueue): Record<string, string> {
    return {
      [ENV.WEBHOOKS_TABLE]: this.webhooks.tableName,
      [ENV.NOTIFICATIONS_TABLE]: this.notifications.tableName,
      [ENV.PAYLOADS_TABLE]: this.payloads.tableName,
      [ENV.EVENT_TYPES_TABLE]: this.eventTypes.tableName,
      [ENV.SUBJECT_KEYS_TABLE]: this.subjectKeys.tableName,
      [ENV.DELIVERY_QUEUE_URL]: queue.queueUrl,
      [ENV.SECRETS_KMS_KEY_ID]: this.key.keyArn,
    };
  }

  /**
   * The Lambdas that list the history read the pagination-cursor secret from its Webhooks item
   * and may create that item (conditional put), no other; it is sealed, so they also need
   * grantEnvelope 'seal'.
   */
  grantCursorKey(grantee: Grantee): void {
    this.grantOnItems(grantee, this.webhooks, ['dynamodb:GetItem', 'dynamodb:PutItem'], {
      'ForAllValues:StringEquals': [WEBHOOKS_TABLE.cursorKeyItemId],
    });
  }

  /**
   * Application-level envelope encryption (secrets in Webhooks items): data keys made with
   * GenerateDataKey and opened with Decrypt, both only under the envelope's encryption context.
   * `seal` for the Lambdas that write secrets, `open` for those that only read them.
   */
  grantEnvelope(grantee: Grantee, use: 'seal' | 'open'): void {
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: use === 'seal' ? ['kms:GenerateDataKey', 'kms:Decrypt'] : ['kms:Decrypt'],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: {
            [`kms:EncryptionContext:${ENVELOPE_CONTEXT_KEY}`]: ENVELOPE_CONTEXT_VALUE,
          },
        },
      }),
    );
  }

  grantNotificationsReadWrite(grantee: Grantee): void {
    this.notifications.grant(grantee, ...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS);
    this.grantKeyThroughDynamo(grantee, 'write');
    const indexArn = `<${Stack.of(this).getLogicalId(this.notifications.node.defaultChild as dynamodb.CfnTable)}.Arn>/index/*`;
    Validations.of(grantee).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${indexArn}]`,
      reason:
        'Queries on the byWebhook, byStatus and byParked indexes of the Notifications table, nothing else.',
    });
  }

  /**
   * The retry sweeper: Query on the byStatus index (WAITING notifications due for a retry) and
   * GetItem of a notification, reads only, and the tables' key to decrypt them.
   */
  grantNotificationsSweep(grantee: Grantee): void {
    // Statements of their own: Table.grant would add every index of the table.
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:Query'],
        resources: [
          `${this.notifications.tableArn}/index/${NOTIFICATIONS_TABLE.byStatusIndex.name}`,
          // What waits parked per webhook: the waiting gauge the sweeper writes.
          `${this.notifications.tableArn}/index/${NOTIFICATIONS_TABLE.byParkedIndex.name}`,
        ],
      }),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:GetItem'],
        resources: [this.notifications.tableArn],
      }),
    );
    this.grantKeyThroughDynamo(grantee, 'read');
  }

  /** The ids of the webhooks (a Scan that projects ids and TTLs; no secret is opened). */
  grantWebhookIds(grantee: Grantee): void {
    this.webhooks.grant(grantee, 'dynamodb:Scan');
    this.grantKeyThroughDynamo(grantee, 'read');
  }

  /**
   * Health records only (`health#<webhookId>` items of the Notifications table): read them and
   * update them (a driver's lease), no other item.
   */
  grantHealthRecords(grantee: Grantee): void {
    this.grantOnItems(grantee, this.notifications, ['dynamodb:GetItem', 'dynamodb:UpdateItem'], {
      'ForAllValues:StringLike': [`${HEALTH_ITEM_PREFIX.state}*`],
    });
  }

  /** Read/write on Webhooks (the API manages definitions). */
  grantWebhooksReadWrite(grantee: Grantee): void {
    this.webhooks.grant(grantee, ...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS);
    this.grantKeyThroughDynamo(grantee, 'write');
  }

  /** Reads of Webhooks: definitions (with their sealed secrets) and the revision item. */
  grantWebhooksRead(grantee: Grantee): void {
    this.webhooks.grant(grantee, ...TABLE_READ_ACTIONS);
    this.grantKeyThroughDynamo(grantee, 'read');
  }

  /**
   * Write-once access to Payloads: PutItem (conditional on attribute_not_exists) and GetItem.
   * Never UpdateItem, DeleteItem or BatchWriteItem, so a stored request cannot change.
   */
  grantPayloadsPutGet(grantee: Grantee): void {
    this.payloads.grant(grantee, 'dynamodb:PutItem', 'dynamodb:GetItem');
    this.grantKeyThroughDynamo(grantee, 'write');
  }

  /**
   * `actions` on the items of `table` whose partition key passes `keys` (one condition operator
   * on dynamodb:LeadingKeys), and the tables' key to write them through DynamoDB.
   */
  private grantOnItems(
    grantee: Grantee,
    table: dynamodb.Table,
    actions: string[],
    keys: Readonly<Record<string, string[]>>,
  ): void {
    const conditions = Object.fromEntries(
      Object.entries(keys).map(([operator, values]) => [
        operator,
        { 'dynamodb:LeadingKeys': values },
      ]),
    );
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions, resources: [table.tableArn], conditions }),
    );
    this.grantKeyThroughDynamo(grantee, 'write');
  }

  /**
   * The tables' key as DynamoDB uses it for the caller (encryption at rest): only through
   * DynamoDB in this region and account (`kms:ViaService`, `kms:CallerAccount`, as in the key
   * policy of AWS's own aws/dynamodb key), so a role that reads or writes the tables cannot call
   * KMS with the key itself. The one direct use, the envelope's data keys, is grantEnvelope's,
   * under its encryption context.
   */
  private grantKeyThroughDynamo(grantee: Grantee, access: 'read' | 'write'): void {
    const granted = this.keyAccess.get(grantee.grantPrincipal);
    if (granted === 'write' || granted === access) return;
    this.keyAccess.set(grantee.grantPrincipal, access);
    const stack = Stack.of(this);
    const read = granted === 'read' ? [] : ['kms:Decrypt', 'kms:DescribeKey'];
    grantee.grantPrincipal.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: access === 'read' ? read : [...read, 'kms:Encrypt', 'kms:GenerateDataKey'],
        resources: [this.key.keyArn],
        conditions: {
          StringEquals: {
            'kms:ViaService': `dynamodb.${stack.region}.${stack.urlSuffix}`,
            'kms:CallerAccount': stack.account,
          },
        },
      }),
    );
  }

  /**
   * Turning a definition off (the health driver's auto-disable): UpdateItem of a definition and
   * of the revision item in one transaction, never of the cursor-key item. No PutItem and no
   * envelope sealing: the definition's secrets are not rewritten.
   */
  grantWebhooksDisable(grantee: Grantee): void {
    this.grantOnItems(grantee, this.webhooks, ['dynamodb:UpdateItem'], {
      'ForAllValues:StringNotEquals': [WEBHOOKS_TABLE.cursorKeyItemId],
    });
  }

  /** Ingestion records the types it sees: UpdateItem on the catalogue, nothing else. */
  grantEventTypesRecord(grantee: Grantee): void {
    this.eventTypes.grant(grantee, 'dynamodb:UpdateItem');
    this.grantKeyThroughDynamo(grantee, 'write');
  }

  /** The api Lambda lists the catalogue (GET /event-types). */
  grantEventTypesRead(grantee: Grantee): void {
    this.eventTypes.grant(grantee, 'dynamodb:Scan');
    this.grantKeyThroughDynamo(grantee, 'read');
  }

  /** Read one stored request by id. */
  grantPayloadsGet(grantee: Grantee): void {
    this.payloads.grant(grantee, 'dynamodb:GetItem');
    this.grantKeyThroughDynamo(grantee, 'read');
  }
}
