/**
 * SQS messages as local mode's poller hands them to the delivery handler: the record shape of
 * Lambda's SQS event source mapping.
 */
import type { MessageAttributeValue } from '@aws-sdk/client-sqs';
import { toRecord } from '../../local/sqs-poller';

const ARN = 'arn:aws:sqs:us-east-1:000000000000:webhooks-delivery';

describe('local SQS event records', () => {
  it('carries the message, its attributes and its message attributes (binary as base64)', () => {
    const record = toRecord(
      {
        MessageId: 'm-1',
        ReceiptHandle: 'h-1',
        Body: '{"id":"ntf_1"}',
        MD5OfBody: 'md5-1',
        Attributes: {
          ApproximateReceiveCount: '3',
          SentTimestamp: '1700000000000',
          SenderId: 'AIDA',
          ApproximateFirstReceiveTimestamp: '1700000000500',
          MessageGroupId: 'wh_1',
        },
        MessageAttributes: {
          kind: { DataType: 'String', StringValue: 'retry' },
          blob: { DataType: 'Binary', BinaryValue: Uint8Array.from([1, 2, 255]) },
          // Without a DataType, the value is taken as a String.
          bare: { StringValue: 'x' } as MessageAttributeValue,
        },
      },
      ARN,
      'eu-west-1',
    );

    expect(record).toStrictEqual({
      messageId: 'm-1',
      receiptHandle: 'h-1',
      body: '{"id":"ntf_1"}',
      attributes: {
        ApproximateReceiveCount: '3',
        SentTimestamp: '1700000000000',
        SenderId: 'AIDA',
        ApproximateFirstReceiveTimestamp: '1700000000500',
        MessageGroupId: 'wh_1',
      },
      messageAttributes: {
        kind: { dataType: 'String', stringValue: 'retry' },
        blob: { dataType: 'Binary', binaryValue: Buffer.from([1, 2, 255]).toString('base64') },
        bare: { dataType: 'String', stringValue: 'x' },
      },
      md5OfBody: 'md5-1',
      eventSource: 'aws:sqs',
      eventSourceARN: ARN,
      awsRegion: 'eu-west-1',
    });
  });

  it('fills the attributes Lambda always sends when the queue left them out (a first receive)', () => {
    const before = Date.now();
    const record = toRecord({ MessageId: 'm-2', Body: 'b' }, ARN, 'us-east-1');
    const after = Date.now();

    expect(record.attributes).toMatchObject({
      ApproximateReceiveCount: '1',
      SenderId: 'local',
    });
    for (const at of [
      record.attributes.SentTimestamp,
      record.attributes.ApproximateFirstReceiveTimestamp,
    ]) {
      expect(Number(at)).toBeGreaterThanOrEqual(before);
      expect(Number(at)).toBeLessThanOrEqual(after);
    }
    expect(record.messageAttributes).toEqual({});
    expect([record.receiptHandle, record.md5OfBody]).toEqual(['', '']);
  });
});
