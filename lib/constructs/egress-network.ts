import { Duration, Fn, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import type * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { required } from '../../lambdas/core/required';
import { DEFAULT_SETTINGS, type NatInstancesLayout } from '../config';
import { perAzNatUserData, SingleNatInstanceProvider } from './single-nat-instance';

/** Construct id aws-cdk-lib gives the singleton AwsCustomResource provider function. */
const AWS_CUSTOM_RESOURCE_PROVIDER_ID = 'AWS679f53fac002430cb0da5b7982bd2287';

export interface EgressNetworkProps {
  /**
   * `gateway`: a managed NAT gateway per AZ. `instance`: a NAT instance per AZ
   * (`natInstanceType`, Amazon Linux 2023 on Graviton), recovered onto new hardware by an alarm
   * when its system status check fails and rebooted when its instance check fails. Both carry
   * the same Elastic IPs. Default `gateway`.
   */
  readonly natProvider?: 'gateway' | 'instance';
  /** Instance type of the NAT instances. Default t4g.nano. */
  readonly natInstanceType?: string;
  /**
   * With natProvider `instance`: `perAz` (one instance and Elastic IP per AZ) or `single` (one
   * instance and Elastic IP for all AZs, in an Auto Scaling group of one that replaces it in
   * any AZ; see SingleNatInstanceProvider). Default `perAz`.
   */
  readonly natInstances?: NatInstancesLayout;
  /**
   * Number of AZs, one NAT gateway or instance (and one sender IP) each; at most the AZs the
   * stack can name (two without a pinned account). Default 2.
   */
  readonly maxAzs?: number;
  /**
   * Existing Elastic IP allocation ids, one per AZ (one in all with natInstances `single`).
   * Default: the construct creates the EIPs. Importing keeps the sender IPs stable across a
   * stack replacement.
   */
  readonly eipAllocationIds?: readonly string[];
  /** Flow log retention. Default one month. */
  readonly logRetention?: logs.RetentionDays;
}

/**
 * VPC whose private subnets reach the internet only through NAT (a gateway per AZ, an instance
 * per AZ, or one instance for all AZs), each with an Elastic IP: every webhook leaves the
 * region from one of `senderIps`.
 */
export class EgressNetwork extends Construct {
  readonly vpc: ec2.Vpc;
  /** Security group of the Lambdas that call receivers: no inbound, all outbound. */
  readonly senderSecurityGroup: ec2.SecurityGroup;
  /** Subnets for the delivery and attempt Lambdas. */
  readonly privateSubnets: ec2.SubnetSelection;
  /** The EIPs this construct created (empty when allocation ids were imported). */
  readonly elasticIps: ec2.CfnEIP[] = [];
  /** Allocation ids of the NAT gateways' EIPs (created or imported). */
  readonly eipAllocationIds: string[];
  /** Public IPv4 addresses of the NAT gateways (tokens resolved at deploy time). */
  readonly senderIps: string[];
  /** `senderIps` as one comma-separated string (env SENDER_IPS, stack output). */
  readonly senderIpList: string;
  /** The NAT instances (natProvider `instance`, natInstances `perAz`), one per AZ; else empty. */
  readonly natInstances: ec2.Instance[] = [];
  /** The Auto Scaling group of the one NAT instance (natInstances `single`). */
  readonly natGroup?: autoscaling.AutoScalingGroup;
  /** What the dashboard and the NAT alarm watch: 1 when a NAT instance is unhealthy or missing. */
  readonly natHealth: cw.IMetric[] = [];

  constructor(scope: Construct, id: string, props: EgressNetworkProps = {}) {
    super(scope, id);
    const maxAzs = props.maxAzs ?? DEFAULT_SETTINGS.maxAzs;
    // The VPC spans at most the AZs the stack can name. A stack whose account is not pinned
    // (bin/app.ts pins only the region) sees two; beyond that the VPC would quietly keep two
    // while an Elastic IP per requested AZ was made and published as a sender IP, one that
    // nothing sends from.
    const visibleAzs = Stack.of(this).availabilityZones.length;
    if (maxAzs > visibleAzs) {
      throw new Error(
        `maxAzs is ${maxAzs}, but this stack can place its network in only ${visibleAzs} availability zones (an environment-agnostic account lets CDK name two per region): use at most ${visibleAzs}`,
      );
    }

    const single = props.natProvider === 'instance' && props.natInstances === 'single';
    const natCount = single ? 1 : maxAzs;
    this.eipAllocationIds = this.senderEips(props.eipAllocationIds, natCount);
    const natProvider = this.natProviderFor(props, single);
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs,
      natGateways: natCount,
      natGatewayProvider: natProvider,
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

    if (natProvider instanceof ec2.NatInstanceProviderV2) this.configureNatInstances(natProvider);
    if (natProvider instanceof SingleNatInstanceProvider) {
      natProvider.connections.allowFrom(this.senderSecurityGroup, ec2.Port.allTraffic());
      this.natGroup = natProvider.autoScalingGroup;
      this.natHealth.push(...singleNatHealth(this.natGroup));
    }

    if (props.eipAllocationIds === undefined) {
      this.senderIps = this.elasticIps.map((eip) => eip.attrPublicIp);
    } else {
      this.senderIps = this.lookUpImportedIps(this.eipAllocationIds);
    }
    this.senderIpList = Fn.join(',', this.senderIps);
  }

  /** The sender Elastic IPs' allocation ids: `count` created here, or exactly `count` imported. */
  private senderEips(imported: readonly string[] | undefined, count: number): string[] {
    if (imported !== undefined) {
      if (imported.length !== count) {
        throw new Error(
          `eipAllocationIds needs ${count} allocation id${count === 1 ? ' (one NAT instance)' : 's (one per AZ)'}, got ${imported.length}`,
        );
      }
      return [...imported];
    }
    for (let i = 0; i < count; i++) {
      this.elasticIps.push(
        new ec2.CfnEIP(this, `SenderIp${i + 1}`, {
          domain: 'vpc',
          tags: [{ key: 'Name', value: `webhooks-sender-${i + 1}` }],
        }),
      );
    }
    return this.elasticIps.map((eip) => eip.attrAllocationId);
  }

  /** NAT gateways, a NAT instance per AZ, or one NAT instance for all (natInstances `single`). */
  private natProviderFor(props: EgressNetworkProps, single: boolean): ec2.NatProvider {
    const instanceType = new ec2.InstanceType(props.natInstanceType ?? 't4g.nano');
    if (single)
      return new SingleNatInstanceProvider({
        instanceType,
        eipAllocationId: required(this.eipAllocationIds[0], 'the Elastic IP of the NAT instance'),
      });
    if (props.natProvider !== 'instance')
      return ec2.NatProvider.gateway({ eipAllocationIds: this.eipAllocationIds });
    return ec2.NatProvider.instanceV2({
      instanceType,
      machineImage: ec2.MachineImage.latestAmazonLinux2023({
        cpuType: ec2.AmazonLinuxCpuType.ARM_64,
      }),
      // Inbound only from the senders (allowed below); the Elastic IP is its only address.
      defaultAllowedTraffic: ec2.NatTrafficDirection.OUTBOUND_ONLY,
      associatePublicIpAddress: false,
      userData: perAzNatUserData(),
    });
  }

  /**
   * Each NAT instance: its AZ's Elastic IP, an encrypted root volume, inbound only from the
   * senders, and two alarms that heal it: a failed system status check recovers it onto new
   * hardware (same instance, ENI, Elastic IP and routes), a failed instance check reboots it.
   */
  private configureNatInstances(provider: ec2.NatInstanceProviderV2): void {
    provider.connections.allowFrom(this.senderSecurityGroup, ec2.Port.allTraffic());
    provider.gatewayInstances.forEach((instance, i) => {
      this.natInstances.push(instance);
      const cfn = instance.instance;
      cfn.blockDeviceMappings = [
        { deviceName: '/dev/xvda', ebs: { encrypted: true, volumeType: 'gp3', volumeSize: 8 } },
      ];
      // IMDSv2 only.
      cfn.metadataOptions = { httpTokens: 'required', httpEndpoint: 'enabled' };
      new ec2.CfnEIPAssociation(this, `SenderIpAssociation${i + 1}`, {
        allocationId: this.eipAllocationIds[i],
        instanceId: instance.instanceId,
      });
      this.natHealth.push(
        ec2StatusCheck(
          'StatusCheckFailed',
          { InstanceId: instance.instanceId },
          `NAT instance ${i + 1}`,
        ),
      );
      const check = (metricName: string) =>
        ec2StatusCheck(metricName, { InstanceId: instance.instanceId });
      new cw.Alarm(this, `NatInstance${i + 1}Recover`, {
        alarmDescription: `NAT instance ${i + 1}: system status check failed; EC2 recovers it onto new hardware`,
        metric: check('StatusCheckFailed_System'),
        threshold: 1,
        evaluationPeriods: 2,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(new cwActions.Ec2Action(cwActions.Ec2InstanceAction.RECOVER));
      new cw.Alarm(this, `NatInstance${i + 1}Reboot`, {
        alarmDescription: `NAT instance ${i + 1}: instance status check failed; EC2 reboots it`,
        metric: check('StatusCheckFailed_Instance'),
        threshold: 1,
        evaluationPeriods: 3,
        comparisonOperator: cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cw.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(new cwActions.Ec2Action(cwActions.Ec2InstanceAction.REBOOT));
      Validations.of(instance).acknowledge(
        {
          id: 'AwsSolutions-EC28',
          reason:
            'Status checks, which the recovery alarms watch, come every minute without detailed monitoring; the other metrics are not worth $2 a month per instance.',
        },
        {
          id: 'AwsSolutions-EC29',
          reason:
            'A NAT instance is disposable: recovery alarms heal it and a deploy recreates it with its Elastic IP; termination protection would block that.',
        },
      );
    });
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

/** An EC2 status check metric, 1 a minute while failing. */
function ec2StatusCheck(
  metricName: string,
  dimensionsMap: Record<string, string>,
  label?: string,
): cw.Metric {
  return new cw.Metric({
    namespace: 'AWS/EC2',
    metricName,
    dimensionsMap,
    statistic: 'Maximum',
    period: Duration.minutes(1),
    label,
  });
}

/** The single NAT instance: its status checks, and 1 while the group has no instance in service. */
function singleNatHealth(group: autoscaling.AutoScalingGroup): cw.IMetric[] {
  const inService = new cw.Metric({
    namespace: 'AWS/AutoScaling',
    metricName: 'GroupInServiceInstances',
    dimensionsMap: { AutoScalingGroupName: group.autoScalingGroupName },
    statistic: 'Minimum',
    period: Duration.minutes(1),
  });
  return [
    ec2StatusCheck(
      'StatusCheckFailed',
      { AutoScalingGroupName: group.autoScalingGroupName },
      'NAT instance',
    ),
    new cw.MathExpression({
      expression: '1 - inService',
      usingMetrics: { inService },
      period: Duration.minutes(1),
      label: 'NAT instance missing (replacement under way)',
    }),
  ];
}
