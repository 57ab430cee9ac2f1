/**
 * Reading the health counters when DynamoDB leaves keys unprocessed (throttling), which
 * DynamoDB Local never does: the client answers as DynamoDB would.
 */
import type { BatchGetItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoHealthStore, UNPROCESSED_ROUNDS } from '../../lambdas/adapters/dynamo-health';

type Keys = { id: { S: string } }[];

/** Answers each key with sent 1, leaving one key unprocessed in the rounds `leaveOne` names. */
function throttlingClient(leaveOne: (round: number) => boolean) {
  const rounds: number[] = [];
  const client = {
    send: async (command: BatchGetItemCommand) => {
      const request = command.input.RequestItems?.notifications;
      const keys = (request?.Keys ?? []) as Keys;
      const round = rounds.length;
      rounds.push(keys.length);
      const unprocessed = leaveOne(round) ? keys.slice(0, 1) : [];
      const processed = keys.slice(unprocessed.length);
      return {
        Responses: { notifications: processed.map((k) => ({ id: k.id, sent: { N: '1' } })) },
        UnprocessedKeys:
          unprocessed.length > 0 ? { notifications: { Keys: unprocessed } } : undefined,
      };
    },
  } as unknown as DynamoDBClient;
  return { client, rounds };
}

const from = new Date('2026-12-04T06:00:00Z');
const to = new Date('2026-12-04T06:04:59Z');

describe('health counters left unprocessed', () => {
  it('asks again for what was left until every key is read, so the counts are whole', async () => {
    const { client, rounds } = throttlingClient((round) => round < 3);
    const counts = await new DynamoHealthStore(client, 'notifications').readCounts(
      'wh_c',
      from,
      to,
    );
    // 5 minutes x 4 shards: 20 keys, each sent 1.
    expect(counts).toEqual({ sent: 20, failed: 0 });
    expect(rounds).toEqual([20, 1, 1, 1]);
  });

  it('fails rather than answer short counts when keys stay unprocessed', async () => {
    const { client, rounds } = throttlingClient(() => true);
    await expect(
      new DynamoHealthStore(client, 'notifications').readCounts('wh_c', from, to),
    ).rejects.toThrow(/still unprocessed/);
    expect(rounds).toHaveLength(UNPROCESSED_ROUNDS);
  });
});
