/**
 * The two NAT choices (context natProvider): both carry the sender IPs; `instance` runs one
 * Graviton NAT instance per AZ with its Elastic IP, healed by alarms, watched on the dashboard.
 * buildStack attaches cdk-nag: building fails on any unacknowledged finding.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { resolveSettings, settingsFromContext } from '../../lib/config';
import { NAT_FORWARDING_HELPERS } from '../../lib/constructs/single-nat-instance';
import {
  type Built,
  buildStack,
  type Json,
  logicalId,
  propsOf,
  references,
  resourcesOf,
} from './support';

let gateway: Built;
let instance: Built;
let imported: Built;
const EIPS = ['eipalloc-0aaa1111', 'eipalloc-0bbb2222'];

beforeAll(() => {
  gateway = buildStack({});
  instance = buildStack({ natProvider: 'instance' });
  imported = buildStack({ natProvider: 'instance', eipAllocationIds: EIPS });
});

/** The NAT security group has no inline ingress and one rule: from the senders' group. */
function expectInboundOnlyFromSenders(built: Built): void {
  const [natSg] = resourcesOf(built, 'AWS::EC2::SecurityGroup').filter(([, p]) =>
    String(p.GroupDescription).includes('NAT'),
  );
  expect(natSg).toBeDefined();
  expect(natSg![1].SecurityGroupIngress ?? []).toEqual([]);
  const sender = logicalId(built.stack.network.senderSecurityGroup);
  const ingress = resourcesOf(built, 'AWS::EC2::SecurityGroupIngress').filter(([, p]) =>
    references(p.GroupId, natSg![0]),
  );
  expect(ingress).toHaveLength(1);
  expect(references(ingress[0]![1].SourceSecurityGroupId, sender)).toBe(true);
}

const routesToInstances = (built: Built) =>
  resourcesOf(built, 'AWS::EC2::Route').filter(([, p]) => p.InstanceId !== undefined);

/** A boot script as the instance gets it: Fn::Join parts, deploy-time values as placeholders. */
function bootScriptOf(userData: unknown): string {
  const body = (userData as { 'Fn::Base64': unknown })['Fn::Base64'];
  if (typeof body === 'string') return body;
  const [separator, parts] = (body as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return parts
    .map((part) => (typeof part === 'string' ? part : 'deploy-time-value'))
    .join(separator);
}

/** bash's own parse of a script (`bash -n`): '' when it parses. */
function bashSyntaxErrors(script: string): string {
  const out = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
  return out.status === 0 ? '' : out.stderr || `exit ${out.status}`;
}

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
    expectInboundOnlyFromSenders(instance);
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

  it('instance: each instance sets up forwarding, retried until it works, and its boot script parses', () => {
    const instances = resourcesOf(instance, 'AWS::EC2::Instance');
    expect(instances).toHaveLength(2);
    for (const [, props] of instances) {
      const script = bootScriptOf(props.UserData);
      expect(bashSyntaxErrors(script)).toBe('');
      expect(script).toContain('retry_n 120 dnf install -y iptables-services');
      expect(script).toContain('iptables-save > /etc/sysconfig/iptables');
      // It keeps trying: nothing would replace an instance that ended itself.
      expect(script).toContain('until nat_forwarding; do');
      expect(script).not.toContain('shutdown');
      // Not aws-cdk-lib's default commands (an install that is not retried, `service ... save`).
      expect(script).not.toContain('yum install');
      expect(script).not.toContain('service iptables save');
    }
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

describe('natInstances', () => {
  let single: Built;
  let singleImported: Built;
  beforeAll(() => {
    single = buildStack({ natProvider: 'instance', natInstances: 'single' });
    singleImported = buildStack({
      natProvider: 'instance',
      natInstances: 'single',
      eipAllocationIds: [EIPS[0]!],
    });
  });
  const group = (built: Built) => {
    const groups = resourcesOf(built, 'AWS::AutoScaling::AutoScalingGroup');
    expect(groups).toHaveLength(1);
    return groups[0]!;
  };
  const userData = (built: Built) =>
    JSON.stringify(resourcesOf(built, 'AWS::EC2::LaunchTemplate')[0]![1]);

  it('reads natInstances from context, defaults to perAz, and refuses anything else at synth', () => {
    const read = (value: string) => (k: string) => (k === 'natInstances' ? value : undefined);
    expect(settingsFromContext(read('single'), 'eu-central-1', 1).natInstances).toBe('single');
    expect(resolveSettings({ natProvider: 'instance' }).natInstances).toBe('perAz');
    expect(() =>
      resolveSettings({ natProvider: 'instance', natInstances: 'one' as never }),
    ).toThrow(/natInstances: "one" must be perAz or single/);
    expect(() => resolveSettings({ natInstances: 'single' })).toThrow(/needs natProvider instance/);
    expect(() =>
      resolveSettings({ natProvider: 'instance', natInstances: 'single', eipAllocationIds: EIPS }),
    ).toThrow(/one allocation id with natInstances single, got 2/);
    expect(() =>
      resolveSettings({ natProvider: 'instance', eipAllocationIds: [EIPS[0]!] }),
    ).toThrow(/one allocation id per AZ/);
  });

  it('perAz is the layout natProvider instance had: two instances, no Auto Scaling group', () => {
    expect(resourcesOf(instance, 'AWS::AutoScaling::AutoScalingGroup')).toHaveLength(0);
    expect(resourcesOf(instance, 'AWS::EC2::Instance')).toHaveLength(2);
  });

  it('single: one encrypted t4g.nano in an Auto Scaling group of one across both AZs’ public subnets, IMDSv2', () => {
    expect(resourcesOf(single, 'AWS::EC2::Instance')).toHaveLength(0);
    expect(resourcesOf(single, 'AWS::EC2::NatGateway')).toHaveLength(0);
    const [, asg] = group(single);
    expect(asg).toMatchObject({ MinSize: '1', MaxSize: '1', HealthCheckType: 'EC2' });
    const subnets = asg.VPCZoneIdentifier as unknown[];
    expect(subnets).toHaveLength(2);
    for (const subnet of single.stack.network.vpc.publicSubnets)
      expect(references(subnets, logicalId(subnet.node.defaultChild as never))).toBe(true);
    const [[, lt]] = resourcesOf(single, 'AWS::EC2::LaunchTemplate') as [[string, Json]];
    const data = lt.LaunchTemplateData as Json;
    expect(data.InstanceType).toBe('t4g.nano');
    expect(data.BlockDeviceMappings).toEqual([
      { DeviceName: '/dev/xvda', Ebs: { Encrypted: true, VolumeType: 'gp3', VolumeSize: 8 } },
    ]);
    expect(data.MetadataOptions).toMatchObject({ HttpTokens: 'required' });
    expect(JSON.stringify(data.ImageId)).toMatch(/al2023ami.*arm64/);
  });

  it('single: one Elastic IP, which the instance takes at boot, and both private routes pointed at it at boot', () => {
    const eips = resourcesOf(single, 'AWS::EC2::EIP').map(([id]) => id);
    expect(eips).toHaveLength(1);
    expect(resourcesOf(single, 'AWS::EC2::EIPAssociation')).toHaveLength(0);
    expect(routesToInstances(single)).toHaveLength(0);
    const script = userData(single);
    expect(script).toContain('associate-address --allocation-id ');
    expect(references(JSON.parse(script), eips[0]!)).toBe(true);
    expect(script).toContain('--no-source-dest-check');
    expect(script).toContain('replace-route');
    // No address and no route unless forwarding works, and no route unless the Elastic IP is
    // taken: otherwise the instance ends and is replaced.
    const forwarding = script.indexOf('if ! nat_forwarding; then');
    const associate = script.indexOf('associate-address');
    const shutdowns = [...script.matchAll(/shutdown -h now/g)].map((m) => m.index);
    expect(forwarding).toBeGreaterThan(-1);
    expect(shutdowns).toHaveLength(2);
    expect(shutdowns[0]).toBeGreaterThan(forwarding);
    expect(associate).toBeGreaterThan(shutdowns[0]!);
    expect(shutdowns[1]).toBeGreaterThan(associate);
    expect(script.indexOf('replace-route')).toBeGreaterThan(shutdowns[1]!);
    const [, launchTemplate] = resourcesOf(single, 'AWS::EC2::LaunchTemplate')[0]!;
    expect(
      bashSyntaxErrors(bootScriptOf((launchTemplate.LaunchTemplateData as Json).UserData)),
    ).toBe('');
    const [, template] = resourcesOf(single, 'AWS::EC2::LaunchTemplate')[0]!;
    expect(
      (template.LaunchTemplateData as { InstanceInitiatedShutdownBehavior?: string })
        .InstanceInitiatedShutdownBehavior,
    ).toBe('terminate');
    for (const subnet of single.stack.network.vpc.privateSubnets)
      expect(
        references(JSON.parse(script), single.stack.resolve(subnet.routeTable.routeTableId).Ref),
      ).toBe(true);
    const output = single.template.toJSON().Outputs.SenderIps.Value;
    expect(references(output, eips[0]!)).toBe(true);
  });

  it('single: the instance role may take that Elastic IP and those two routes, and modify only its own tagged instance', () => {
    const policies = resourcesOf(single, 'AWS::IAM::Policy').filter(([id]) =>
      id.includes('NatInstanceRole'),
    );
    expect(policies).toHaveLength(1);
    const statements = (policies[0]![1].PolicyDocument as { Statement: Json[] }).Statement;
    expect(statements.map((s) => s.Action)).toEqual([
      'ec2:AssociateAddress',
      'ec2:AssociateAddress',
      ['ec2:AssociateAddress', 'ec2:ModifyInstanceAttribute'],
      ['ec2:CreateRoute', 'ec2:ReplaceRoute'],
    ]);
    expect(JSON.stringify(statements[1]!.Resource)).toContain(':network-interface/*');
    expect(JSON.stringify(statements[2]!.Condition)).toContain(
      'aws:ResourceTag/webhooks:nat-instance',
    );
    expect(statements[3]!.Resource as unknown[]).toHaveLength(2);
  });

  it('single: carries an imported Elastic IP by allocation id', () => {
    expect(resourcesOf(singleImported, 'AWS::EC2::EIP')).toHaveLength(0);
    expect(userData(singleImported)).toContain(`--allocation-id ${EIPS[0]}`);
  });

  it('single: takes traffic only from the senders’ security group', () => {
    expectInboundOnlyFromSenders(single);
  });

  it('single: its status checks and instances in service on the dashboard, one alarm to the topic, no recover/reboot alarms', () => {
    const [groupId] = group(single);
    const alarms = resourcesOf(single, 'AWS::CloudWatch::Alarm');
    expect(alarms.filter(([, p]) => JSON.stringify(p.AlarmActions).includes(':ec2:'))).toEqual([]);
    const unhealthy = alarms.filter(([, p]) =>
      String(p.AlarmDescription).includes('NAT instance failed its status checks'),
    );
    expect(unhealthy).toHaveLength(1);
    const topic = logicalId(single.stack.monitoring.alarmTopic);
    expect(references(unhealthy[0]![1].AlarmActions, topic)).toBe(true);
    const metrics = JSON.stringify(unhealthy[0]![1].Metrics);
    expect(metrics).toContain('StatusCheckFailed');
    expect(metrics).toContain('GroupInServiceInstances');
    expect(references(unhealthy[0]![1].Metrics, groupId)).toBe(true);
    const [[, dashboard]] = resourcesOf(single, 'AWS::CloudWatch::Dashboard') as [[string, Json]];
    expect(JSON.stringify(dashboard.DashboardBody)).toContain('GroupInServiceInstances');
    expect(alarms.length).toBe(resourcesOf(instance, 'AWS::CloudWatch::Alarm').length - 4);
  });
});

describe('the NAT forwarding helpers', () => {
  it('retry the package install 120 times, then fail without touching forwarding', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nat-boot-'));
    try {
      const bin = path.join(dir, 'bin');
      fs.mkdirSync(bin);
      const log = path.join(dir, 'calls.log');
      // dnf always fails (busy, or no route to the mirrors yet); sleep returns at once; any
      // later step would log its call.
      const fake = (name: string, body: string) =>
        fs.writeFileSync(path.join(bin, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
      fake('dnf', `echo dnf >> '${log}'; exit 1`);
      fake('sleep', 'exit 0');
      for (const step of ['systemctl', 'sysctl', 'iptables', 'iptables-save', 'ip'])
        fake(step, `echo ${step} >> '${log}'; exit 0`);
      const run = spawnSync(
        'bash',
        ['-c', [...NAT_FORWARDING_HELPERS, 'nat_forwarding; echo "rc=$?"'].join('\n')],
        { encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH}` } },
      );
      expect(run.stdout.trim()).toBe('rc=1');
      const calls = fs.readFileSync(log, 'utf8').trim().split('\n');
      expect(calls).toHaveLength(120);
      expect(new Set(calls)).toEqual(new Set(['dnf']));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
