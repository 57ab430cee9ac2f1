/**
 * Erasure by subject (crypto-shredding): `POST /subjects/{subject}/erase` destroys the
 * subject's key, so every stored request about the subject becomes unreadable for good,
 * while the write-once Payloads items stay untouched. The erasure is recorded (who, when,
 * which subject) without any of the erased data.
 */
import type { Clock, ErasureRecord, SubjectKeyStore } from '../../ports';
import { ValidationError } from '../errors';
import { MAX_SUBJECT_LENGTH } from '../events';
import { hasControlChars } from './webhook-input';

export interface SubjectServiceDeps {
  readonly subjectKeys: SubjectKeyStore;
  readonly clock: Clock;
}

export class SubjectService {
  constructor(private readonly deps: SubjectServiceDeps) {}

  /** `erasedBy`: the caller (IAM principal on AWS, the API token's holder locally). */
  async erase(subject: string, erasedBy: string): Promise<ErasureRecord> {
    if (subject.trim() === '' || subject.length > MAX_SUBJECT_LENGTH || hasControlChars(subject)) {
      throw new ValidationError('Invalid subject', [
        {
          path: 'subject',
          message: `must be 1 to ${MAX_SUBJECT_LENGTH} characters without control characters`,
        },
      ]);
    }
    return this.deps.subjectKeys.erase(subject, erasedBy, this.deps.clock.now());
  }
}
