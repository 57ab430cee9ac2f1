import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoConcurrencyLeases } from '../../lambdas/adapters/dynamo-leases';

/**
 * Throttling is what DynamoDB Local never answers, so this client stands in for it: every send
 * fails with the named error. The lease logic against a real table is covered by the
 * integration tests of the cap.
 */
function failingWith(name: string) {
  let sends = 0;
  const client = {
    send: async () => {
      sends++;
      throw Object.assign(new Error(`${name} from the stand-in`), { name });
    },
  } as unknown as DynamoDBClient;
  return { leases: new DynamoConcurrencyLeases(client, 'notifications'), sends: () => sends };
}

describe('the DynamoDB lease sets of the concurrency cap', () => {
  it.each([
    'ProvisionedThroughputExceededException',
    'ThrottlingException',
    'RequestLimitExceeded',
    'TransactionConflictException',
  ])('count a take refused with %s as the webhook being busy, not as a failure', async (name) => {
    const { leases, sends } = failingWith(name);
    await expect(leases.acquire('wh_a', 2, 1_000_000, 30_000)).resolves.toBeUndefined();
    // Refused once: nothing expired to sweep, so no second write.
    expect(sends()).toBe(1);
  });

  it('let any other error of a take through', async () => {
    const { leases } = failingWith('ResourceNotFoundException');
    await expect(leases.acquire('wh_a', 2, 1_000_000, 30_000)).rejects.toThrow(
      /ResourceNotFoundException/,
    );
  });
});
