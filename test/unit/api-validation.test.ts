/**
 * The readers under the API use cases: one ValidationError naming every problem, its message
 * summing up the first three.
 */
import { Issues } from '../../lambdas/core/api/validation';
import { ValidationError } from '../../lambdas/core/errors';

function thrownBy(issues: Issues): ValidationError {
  try {
    issues.throwIfAny('Invalid thing');
  } catch (err) {
    if (err instanceof ValidationError) return err;
    throw err;
  }
  throw new Error('expected a ValidationError');
}

function withProblems(count: number): Issues {
  const issues = new Issues();
  for (let i = 0; i < count; i++) issues.add(`f${i}`, 'is wrong');
  return issues;
}

describe('Issues', () => {
  it('throws nothing while there is no problem', () => {
    const issues = new Issues();
    expect(issues.ok).toBe(true);
    expect(() => issues.throwIfAny('Invalid thing')).not.toThrow();
  });

  it('sums up exactly three problems in full, and says "..." only when there are more', () => {
    const three = thrownBy(withProblems(3));
    expect(three.message).toBe('Invalid thing: f0: is wrong; f1: is wrong; f2: is wrong');
    expect(three.details).toHaveLength(3);
    const four = thrownBy(withProblems(4));
    expect(four.message).toBe('Invalid thing: f0: is wrong; f1: is wrong; f2: is wrong; ...');
    expect(four.details).toHaveLength(4);
  });

  it('names the body for a problem without a path', () => {
    const issues = new Issues();
    issues.add('', 'must be an object, got an array');
    expect(issues.ok).toBe(false);
    expect(thrownBy(issues).message).toBe('Invalid thing: body: must be an object, got an array');
  });
});
