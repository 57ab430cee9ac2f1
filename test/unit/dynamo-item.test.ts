/**
 * Which DynamoDB errors the stores take for "the condition did not hold" (nothing to do) rather
 * than a failure: only condition failures, never a transaction cancelled for another reason too.
 */
import { isCancelledByCondition, isConditionFailure } from '../../lambdas/adapters/dynamo-item';

/** A TransactionCanceledException as the SDK raises it, one reason per item of the transaction. */
function cancelled(...codes: (string | undefined)[]) {
  return Object.assign(new Error('Transaction cancelled'), {
    name: 'TransactionCanceledException',
    CancellationReasons: codes.map((code) => (code === undefined ? {} : { Code: code })),
  });
}

describe('a transaction cancelled', () => {
  it.each<[string, boolean, Error]>([
    ['by a condition alone', true, cancelled('ConditionalCheckFailed', 'None')],
    [
      'by a condition, the other item giving no reason',
      true,
      cancelled(undefined, 'ConditionalCheckFailed'),
    ],
    [
      'by a condition and a conflicting transaction',
      false,
      cancelled('ConditionalCheckFailed', 'TransactionConflict'),
    ],
    ['by a throttled item only', false, cancelled('None', 'ThrottlingError')],
    ['without any failed condition', false, cancelled('None', 'None')],
  ])('%s counts as a failed condition: %s', (_name, expected, err) => {
    expect(isCancelledByCondition(err)).toBe(expected);
    expect(isConditionFailure(err)).toBe(false);
  });

  it('is told from other errors, and a failed condition on one item from both', () => {
    const condition = Object.assign(new Error('failed'), {
      name: 'ConditionalCheckFailedException',
    });
    expect(isConditionFailure(condition)).toBe(true);
    expect(isCancelledByCondition(condition)).toBe(false);
    expect(isCancelledByCondition(new Error('connection reset'))).toBe(false);
    expect(isConditionFailure(null)).toBe(false);
  });
});
