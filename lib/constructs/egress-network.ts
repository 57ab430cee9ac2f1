import { Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';

/** Construct id aws-cdk-lib gives the singleton AwsCustomResource provider function. */
const AWS_CUSTOM_RESOURCE_PROVIDER_ID = 'AWS679f53fac002430cb0da5b7982bd2287';

export interface EgressNetworkProps {
  /** Number of AZs, one NAT gateway (and one sender IP) each. Default 2. */
  readonly maxAzs?: number;
  /**
   * Existing Elastic IP allocation ids, one per AZ. Default: the construct creates the EIPs.
   * Importing keeps the sender IPs stable across a stack replacement.
   */
  readonly eipAllocationIds?: readonly string[];
  /** Flow log retention. Default one month. */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * VPC whose private subnets reach the internet only through a NAT gateway per AZ, each with
 * an Elastic IP: every webhook leaves the region from one of `senderIps`.
 */
export class EgressNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** Security group of the Lambdas that call receivers: no inbound, all outbound. */
  readonly senderSecurityGroup: ec2.SecurityGroup;
  /** Subnets for the delivery and attempt Lambdas. */
  readonly privateSubnets: ec2.SubnetSelection;
  /** The EIPs this construct created (empty when allocation ids were imported). */
  readonly elasticIps: ec2.CfnEIP[];
  /** Allocation ids of the NAT gateways' EIPs (created or imported). */
  readonly eipAllocationIds: string[];
  /** Public IPv4 addresses of the NAT gateways (tokens resolved at deploy time). */
  readonly senderIps: string[];
  /** `senderIps` as one comma-separated string (env SENDER_IPS, stack output). */
  readonly senderIpList: string;

  constructor(scope: Construct, id: string, props: EgressNetworkProps = {}) {
    super(scope, id);
    const maxAzs = props.maxAzs ?? 2;

    this.elasticIps = [];
    if (props.eipAllocationIds === undefined) {
      for (let i = 0; i < maxAzs; i++) {
        this.elasticIps.push(
          new ec2.CfnEIP(this, `SenderIp${i + 1}`, {
            domain: 'vpc',
            tags: [{ key: 'Name', value: `webhooks-sender-${i + 1}` }],
          }),
        );
      }
      this.eipAllocationIds = this.elasticIps.map((eip) => eip.attrAllocationId);
    } else {
      if (props.eipAllocationIds.length !== maxAzs) {
        throw new Error(
          `eipAllocationIds needs ${maxAzs} allocation ids (one per AZ), got ${props.eipAllocationIds.length}`,
        );
      }
      this.eipAllocationIds = [...props.eipAllocationIds];
    }

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs,
      natGateways: maxAzs,
      natGatewayProvider: ec2.NatProvider.gateway({ eipAllocationIds: this.eipAllocationIds }),
      subnetConfiguration: [
        { name: 'Public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'Sender', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
      ],
      // Nothing uses the default security group; restricting it would add a custom-resource Lambda.
      restrictDefaultSecurityGroup: false,
    });
    // DynamoDB traffic stays off the NAT gateways (free gateway endpoint, no NAT data charge).
    this.vpc.addGatewayEndpoint('DynamoDbEndpoint', {
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
    });

    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    // Rejected traffic only: accepted flows at 5,000 webhooks/s would dominate the log bill.
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    this.privateSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    this.senderSecurityGroup = new ec2.SecurityGroup(this, 'SenderSecurityGroup', {
      vpc: this.vpc,
      description: 'Webhook senders: no inbound; outbound to receivers via the NAT gateways',
      allowAllOutbound: true,
    });

    if (props.eipAllocationIds === undefined) {
      this.senderIps = this.elasticIps.map((eip) => eip.attrPublicIp);
    } else {
      this.senderIps = this.lookUpImportedIps(this.eipAllocationIds);
    }
    this.senderIpList = Fn.join(',', this.senderIps);
  }

  /** An imported allocation id has no CloudFormation attribute for its address: ask EC2 at deploy time. */
  private lookUpImportedIps(allocationIds: readonly string[]): string[] {
    const lookup = new cr.AwsCustomResource(this, 'SenderIpLookup', {
      onUpdate: {
        service: 'EC2',
        action: 'describeAddresses',
        parameters: { AllocationIds: allocationIds },
        physicalResourceId: cr.PhysicalResourceId.of(allocationIds.join(',')),
        outputPaths: allocationIds.map((_, i) => `Addresses.${i}.PublicIp`),
      },
      policy: cr.AwsCustomResourcePolicy.fromSdkCalls({
        resources: cr.AwsCustomResourcePolicy.ANY_RESOURCE,
      }),
      installLatestAwsSdk: false,
    });
    Validations.of(this).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'ec2:DescribeAddresses does not support resource-level permissions; read-only lookup of the imported EIPs.',
    });
    // The custom resource's provider function is a singleton at stack level.
    const provider = Stack.of(this).node.tryFindChild(AWS_CUSTOM_RESOURCE_PROVIDER_ID);
    if (provider !== undefined) {
      Validations.of(provider).acknowledge(
        {
          id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
          reason: 'CDK-provided lookup function: the AWS-maintained minimum for its own logs.',
        },
        {
          id: 'AwsSolutions-L1',
          reason: 'Runtime chosen by aws-cdk-lib for its AwsCustomResource provider.',
        },
      );
    }
    return allocationIds.map((_, i) => lookup.getResponseField(`Addresses.${i}.PublicIp`));
  }
}
