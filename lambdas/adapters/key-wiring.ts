/**
 * Builds the data key provider a Lambda (or local mode) encrypts with, from its KeyConfig:
 * KMS with the stack's customer-managed key on AWS, the installation key file locally.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import type { KeyConfig } from '../config';
import { EnvelopeCipher } from '../core/crypto/envelope';
import type { DataKeyProvider } from '../ports';
import { KmsDataKeyProvider } from './key-kms';
import { LocalDataKeyProvider } from './key-local';

export function createDataKeyProvider(keys: KeyConfig, kms: KMSClient): DataKeyProvider {
  if (keys.kind === 'file') return new LocalDataKeyProvider(keys.file);
  return new KmsDataKeyProvider(kms, keys.keyId);
}

export function createEnvelopeCipher(keys: KeyConfig, kms: KMSClient): EnvelopeCipher {
  return new EnvelopeCipher(createDataKeyProvider(keys, kms));
}
