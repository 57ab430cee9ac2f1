import { Duration, Fn, Names, Stack, Tags, Token, Validations } from 'aws-cdk-lib';
import * as autoscaling from 'aws-cdk-lib/aws-autoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';

/** What routes the private subnets' internet traffic through one NAT instance. */
export interface SingleNatInstanceProps {
  readonly instanceType: ec2.InstanceType;
  /** Allocation id of the one Elastic IP the instance carries (created or imported). */
  readonly eipAllocationId: string;
}

/**
 * Shell helpers that make an Amazon Linux 2023 instance a NAT, for both layouts' boot scripts:
 * `retry_n N cmd...` (N tries, 5 s apart), `retry cmd...` (a minute) and `nat_forwarding`, which
 * fails (non-zero) unless every step worked. The steps are aws-cdk-lib's NAT instance commands
 * (iptables-services, IP forwarding, MASQUERADE out of the default route's interface, FORWARD
 * flushed, rules saved for reboots), made dependable: the package install is retried (dnf can be
 * busy at boot, and a per-AZ instance reaches the mirrors only once its Elastic IP is
 * associated), the interface comes from `ip route` (no net-tools), and the rules are saved with
 * iptables-save into the file the iptables service loads at boot.
 */
export const NAT_FORWARDING_HELPERS: readonly string[] = [
  'set -u',
  'retry_n() { n=$1; shift; for i in $(seq "$n"); do "$@" && return 0; sleep 5; done; return 1; }',
  'retry() { retry_n 12 "$@"; }',
  'nat_forwarding() {',
  '  retry_n 120 dnf install -y iptables-services || return 1',
  '  systemctl enable --now iptables || return 1',
  "  echo 'net.ipv4.ip_forward=1' > /etc/sysctl.d/90-nat-forwarding.conf || return 1",
  '  sysctl -p /etc/sysctl.d/90-nat-forwarding.conf || return 1',
  "  out=$(ip -4 route show default | awk -v d=dev '{ for (i = 1; i < NF; i++) if ($i == d) { print $(i + 1); exit } }')",
  '  [ -n "$out" ] || return 1',
  '  iptables -t nat -A POSTROUTING -o "$out" -j MASQUERADE || return 1',
  '  iptables -F FORWARD || return 1',
  '  iptables-save > /etc/sysconfig/iptables',
  '}',
];

/**
 * The boot script of a NAT instance per AZ. Nothing would replace an instance that ended itself
 * (no Auto Scaling group), and what fails here passes (a busy dnf, no way out before the Elastic
 * IP is associated): it keeps trying, a minute apart, writing each failure to the boot log
 * (which `aws ec2 get-console-output` shows). Every step can be repeated.
 */
export function perAzNatUserData(): ec2.UserData {
  const userData = ec2.UserData.forLinux();
  userData.addCommands(
    ...NAT_FORWARDING_HELPERS,
    'until nat_forwarding; do',
    '  echo "NAT instance: forwarding setup failed, trying again in 60 s" >&2',
    '  sleep 60',
    'done',
  );
  return userData;
}

/** Tag whose value names this stack's NAT instance: the IAM conditions that let it modify itself. */
const NAT_TAG = 'webhooks:nat-instance';

/**
 * One NAT instance for every AZ: an Auto Scaling group of one across the public subnets of all
 * AZs, so EC2 replaces an instance that fails its status checks, in whichever AZ has room. The
 * instance sets itself up at boot: it turns off its source/destination check, takes the Elastic
 * IP (from whatever held it) and points the default route of every private route table at
 * itself. It boots with an ephemeral public IP, needed to reach the EC2 API before it holds the
 * Elastic IP, which then replaces it. CloudFormation creates no default route for the private
 * subnets: the instance does, and its replacement takes it over.
 */
export class SingleNatInstanceProvider extends ec2.NatProvider {
  private group?: autoscaling.AutoScalingGroup;
  private securityGroup?: ec2.SecurityGroup;

  constructor(private readonly props: SingleNatInstanceProps) {
    super();
  }

  /** The Auto Scaling group of the instance (after the VPC configured it). */
  get autoScalingGroup(): autoscaling.AutoScalingGroup {
    if (this.group === undefined) throw new Error('pass the provider to a Vpc first');
    return this.group;
  }

  get connections(): ec2.Connections {
    if (this.securityGroup === undefined) throw new Error('pass the provider to a Vpc first');
    return this.securityGroup.connections;
  }

  get configuredGateways(): ec2.GatewayConfig[] {
    return [];
  }

  configureNat(options: ec2.ConfigureNatOptions): void {
    const scope = options.vpc as unknown as ec2.Vpc;
    const routeTables = options.privateSubnets.map((s) => s.routeTable.routeTableId);
    this.securityGroup = new ec2.SecurityGroup(scope, 'NatSecurityGroup', {
      vpc: options.vpc,
      description: 'Security Group for the NAT instance',
      allowAllOutbound: true,
    });
    const role = new iam.Role(scope, 'NatInstanceRole', {
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: 'The NAT instance: takes its Elastic IP and the private default routes at boot',
    });
    const tagValue = Names.uniqueId(scope);
    this.allowSelfSetup(role, routeTables, tagValue);
    const launchTemplate = new ec2.LaunchTemplate(scope, 'NatLaunchTemplate', {
      instanceType: this.props.instanceType,
      machineImage: ec2.MachineImage.latestAmazonLinux2023({
        cpuType: ec2.AmazonLinuxCpuType.ARM_64,
      }),
      securityGroup: this.securityGroup,
      role,
      requireImdsv2: true,
      instanceInitiatedShutdownBehavior: ec2.InstanceInitiatedShutdownBehavior.TERMINATE,
      associatePublicIpAddress: true,
      blockDevices: [
        {
          deviceName: '/dev/xvda',
          volume: ec2.BlockDeviceVolume.ebs(8, {
            encrypted: true,
            volumeType: ec2.EbsDeviceVolumeType.GP3,
          }),
        },
      ],
      userData: this.bootScript(Stack.of(scope).region, routeTables),
    });
    this.group = new autoscaling.AutoScalingGroup(scope, 'NatInstanceGroup', {
      vpc: options.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PUBLIC },
      launchTemplate,
      minCapacity: 1,
      maxCapacity: 1,
      healthChecks: autoscaling.HealthChecks.ec2({ gracePeriod: Duration.minutes(2) }),
      groupMetrics: [new autoscaling.GroupMetrics(autoscaling.GroupMetric.IN_SERVICE_INSTANCES)],
      // A deploy with a new image replaces the instance (a short egress gap, like a failover).
      updatePolicy: autoscaling.UpdatePolicy.rollingUpdate({
        maxBatchSize: 1,
        minInstancesInService: 0,
      }),
    });
    Tags.of(this.group).add(NAT_TAG, tagValue, { applyToLaunchedInstances: true });
    this.acknowledgeFindings(this.group, role);
  }

  /** No route from CloudFormation: the instance points every private default route at itself. */
  configureSubnet(_subnet: ec2.PrivateSubnet): void {}

  /** The EC2 calls of the boot script, each on exactly what it needs. */
  private allowSelfSetup(role: iam.Role, routeTables: string[], tagValue: string): void {
    const stack = Stack.of(role);
    const arn = (resource: string) => stack.formatArn({ service: 'ec2', resource });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:AssociateAddress'],
        resources: [arn(`elastic-ip/${this.props.eipAllocationId}`)],
      }),
    );
    // The instance's primary network interface takes the address: a call by instance id may
    // be authorized against it too. The address itself is the one above, nothing else.
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:AssociateAddress'],
        resources: [arn('network-interface/*')],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:AssociateAddress', 'ec2:ModifyInstanceAttribute'],
        resources: [arn('instance/*')],
        conditions: { StringEquals: { [`aws:ResourceTag/${NAT_TAG}`]: tagValue } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['ec2:CreateRoute', 'ec2:ReplaceRoute'],
        resources: routeTables.map((id) => arn(`route-table/${id}`)),
      }),
    );
  }

  /** NAT forwarding, then the instance's own setup, each EC2 call retried for a minute. */
  private bootScript(region: string, routeTables: string[]): ec2.UserData {
    const userData = ec2.UserData.forLinux();
    userData.addCommands(
      ...NAT_FORWARDING_HELPERS,
      'TOKEN=$(curl -s -X PUT http://169.254.169.254/latest/api/token -H "X-aws-ec2-metadata-token-ttl-seconds: 300")',
      'ID=$(curl -s -H "X-aws-ec2-metadata-token: $TOKEN" http://169.254.169.254/latest/meta-data/instance-id)',
      `export AWS_DEFAULT_REGION=${region}`,
      'retry aws ec2 modify-instance-attribute --instance-id "$ID" --no-source-dest-check',
      // An instance that cannot forward must not take the address and the routes: it ends, and
      // its group launches another.
      'if ! nat_forwarding; then',
      '  echo "NAT instance: forwarding setup failed, shutting down" >&2',
      '  shutdown -h now',
      '  exit 1',
      'fi',
      // Without the Elastic IP, traffic would leave from the boot-time address, which no
      // receiver has allowed: no route then, and the instance ends itself (terminate on
      // shutdown) so that its group launches another.
      `if ! retry aws ec2 associate-address --allocation-id ${this.props.eipAllocationId} --instance-id "$ID" --allow-reassociation; then`,
      '  echo "NAT instance: could not take the Elastic IP, shutting down" >&2',
      '  shutdown -h now',
      '  exit 1',
      'fi',
      `for RT in ${Fn.join(' ', routeTables)}; do`,
      '  retry sh -c "aws ec2 replace-route --route-table-id $RT --destination-cidr-block 0.0.0.0/0 --instance-id $ID || aws ec2 create-route --route-table-id $RT --destination-cidr-block 0.0.0.0/0 --instance-id $ID"',
      'done',
    );
    return userData;
  }

  private acknowledgeFindings(group: autoscaling.AutoScalingGroup, role: iam.Role): void {
    const stack = Stack.of(role);
    const shown = (value: string, pseudo: string) =>
      Token.isUnresolved(value) ? `<AWS::${pseudo}>` : value;
    const instances = `arn:<AWS::Partition>:ec2:${shown(stack.region, 'Region')}:${shown(stack.account, 'AccountId')}:instance/*`;
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${instances}]`,
      reason:
        'The instance id is known only at boot: allowed only on instances tagged as this stack’s NAT instance.',
    });
    Validations.of(role).acknowledge({
      id: `AwsSolutions-IAM5[Resource::${instances.replace('instance/*', 'network-interface/*')}]`,
      reason:
        'AssociateAddress of this stack’s one Elastic IP (its own statement) onto the instance’s interface, whose id is known only at boot.',
    });
    Validations.of(group).acknowledge({
      id: 'AwsSolutions-AS3',
      reason:
        'A replacement shows on the dashboard and raises the NAT alarm (status checks, instances in service); no scaling notifications besides.',
    });
  }
}
