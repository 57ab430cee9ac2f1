/**
 * The two NAT choices (context natProvider): both carry the sender IPs; `instance` runs one
 * Graviton NAT instance per AZ with its Elastic IP, healed by alarms, watched on the dashboard.
 * buildStack attaches cdk-nag: building fails on any unacknowledged finding.
 */
import { resolveSettings, settingsFromContext } from '../../lib/config';
import { type Built, buildStack, logicalId, propsOf, references, resourcesOf } from './support';

let gateway: Built;
let instance: Built;
let imported: Built;
const EIPS = ['eipalloc-0aaa1111', 'eipalloc-0bbb2222'];

beforeAll(() => {
  gateway = buildStack({});
  instance = buildStack({ natProvider: 'instance' });
  imported = buildStack({ natProvider: 'instance', eipAllocationIds: EIPS });
});

const routesToInstances = (built: Built) =>
  resourcesOf(built, 'AWS::EC2::Route').filter(([, p]) => p.InstanceId !== undefined);

describe('natProvider', () => {
  it('defaults to a NAT gateway per AZ, each with its Elastic IP, and no instance', () => {
    expect(resolveSettings({}).natProvider).toBe('gateway');
    expect(resourcesOf(gateway, 'AWS::EC2::NatGateway')).toHaveLength(2);
    expect(resourcesOf(gateway, 'AWS::EC2::Instance')).toHaveLength(0);
    expect(gateway.stack.network.natInstances).toHaveLength(0);
  });

  it('reads natProvider from context and refuses anything else', () => {
    expect(
      settingsFromContext((k) => (k === 'natProvider' ? 'instance' : undefined), 'eu-central-1', 1)
        .natProvider,
    ).toBe('instance');
    expect(() => resolveSettings({ natProvider: 'nat' as never })).toThrow(/natProvider/);
    expect(resolveSettings({}).natInstanceType).toBe('t4g.nano');
    expect(resolveSettings({ natInstanceType: 'c7gn.medium' }).natInstanceType).toBe('c7gn.medium');
    expect(() => resolveSettings({ natInstanceType: 't3.nano' })).toThrow(/Graviton/);
  });

  it('instance: one encrypted t4g.nano per AZ, Amazon Linux 2023 on arm64, IMDSv2, no NAT gateway', () => {
    expect(resourcesOf(instance, 'AWS::EC2::NatGateway')).toHaveLength(0);
    const instances = resourcesOf(instance, 'AWS::EC2::Instance');
    expect(instances).toHaveLength(2);
    for (const [, p] of instances) {
      expect(p.InstanceType).toBe('t4g.nano');
      expect(p.SourceDestCheck).toBe(false);
      expect(p.BlockDeviceMappings).toEqual([
        { DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 8 } },
      ]);
      expect(p.MetadataOptions).toMatchObject({ HttpTokens: 'required' });
      expect(JSON.stringify(p.ImageId)).toMatch(/al2023ami.*arm64/);
    }
  });

  it('instance: each private subnet routes to the internet only through its own AZ’s instance', () => {
    const routes = routesToInstances(instance);
    expect(routes).toHaveLength(2);
    const targets = routes.map(([, p]) => JSON.stringify(p.InstanceId));
    expect(new Set(targets).size).toBe(2);
    expect(
      resourcesOf(instance, 'AWS::EC2::Route').filter(([, p]) => p.NatGatewayId !== undefined),
    ).toHaveLength(0);
  });

  it('instance: carries the same Elastic IPs, created by the stack and output as sender IPs', () => {
    const eips = resourcesOf(instance, 'AWS::EC2::EIP').map(([id]) => id);
    expect(eips).toHaveLength(2);
    const associations = resourcesOf(instance, 'AWS::EC2::EIPAssociation');
    expect(associations).toHaveLength(2);
    for (const eip of eips)
      expect(associations.filter(([, p]) => references(p.AllocationId, eip))).toHaveLength(1);
    const instanceIds = resourcesOf(instance, 'AWS::EC2::Instance').map(([id]) => id);
    for (const id of instanceIds)
      expect(associations.filter(([, p]) => references(p.InstanceId, id))).toHaveLength(1);
    const output = instance.template.toJSON().Outputs.SenderIps.Value;
    for (const eip of eips) expect(references(output, eip)).toBe(true);
  });

  it('instance: carries imported Elastic IPs by allocation id', () => {
    expect(resourcesOf(imported, 'AWS::EC2::EIP')).toHaveLength(0);
    const allocations = resourcesOf(imported, 'AWS::EC2::EIPAssociation').map(
      ([, p]) => p.AllocationId,
    );
    expect(allocations.sort()).toEqual([...EIPS].sort());
  });

  it('instance: takes traffic only from the senders’ security group, no public inbound', () => {
    const [natSg] = resourcesOf(instance, 'AWS::EC2::SecurityGroup').filter(([, p]) =>
      String(p.GroupDescription).includes('NAT'),
    );
    expect(natSg).toBeDefined();
    expect(natSg![1].SecurityGroupIngress ?? []).toEqual([]);
    const sender = logicalId(instance.stack.network.senderSecurityGroup);
    const ingress = resourcesOf(instance, 'AWS::EC2::SecurityGroupIngress').filter(([, p]) =>
      references(p.GroupId, natSg![0]),
    );
    expect(ingress).toHaveLength(1);
    expect(references(ingress[0]![1].SourceSecurityGroupId, sender)).toBe(true);
  });

  it('instance: recovers an instance whose system check fails and reboots one whose instance check fails', () => {
    const alarms = resourcesOf(instance, 'AWS::CloudWatch::Alarm');
    const withAction = (action: string) =>
      alarms.filter(([, p]) => JSON.stringify(p.AlarmActions ?? []).includes(`:ec2:${action}`));
    expect(withAction('recover')).toHaveLength(2);
    expect(withAction('reboot')).toHaveLength(2);
    for (const [, p] of withAction('recover'))
      expect(p.MetricName).toBe('StatusCheckFailed_System');
    for (const [, p] of withAction('reboot'))
      expect(p.MetricName).toBe('StatusCheckFailed_Instance');
  });

  it('instance: shows the instances’ health on the dashboard and alarms the topic when one is unhealthy', () => {
    const topic = logicalId(instance.stack.monitoring.alarmTopic);
    const unhealthy = resourcesOf(instance, 'AWS::CloudWatch::Alarm').filter(([, p]) =>
      String(p.AlarmDescription).includes('NAT instance failed its status checks'),
    );
    expect(unhealthy).toHaveLength(1);
    expect(references(unhealthy[0]![1].AlarmActions, topic)).toBe(true);
    const [[, dashboard]] = resourcesOf(instance, 'AWS::CloudWatch::Dashboard') as [
      [string, Record<string, unknown>],
    ];
    expect(JSON.stringify(dashboard.DashboardBody)).toContain('NAT instances: status check failed');
    expect(
      JSON.stringify(
        propsOf(gateway, resourcesOf(gateway, 'AWS::CloudWatch::Dashboard')[0]![0]).DashboardBody,
      ),
    ).not.toContain('NAT instances');
  });
});
