import fs from 'node:fs';
import path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import { buildApp } from '../../lib/app';
import { CONSOLE_DIST, OperatorConsole } from '../../lib/constructs/console';
import {
  type Built,
  buildStack,
  type Json,
  logicalId,
  references,
  resourcesOf,
  SKIP_BUNDLING,
  testApp,
} from './support';

// One stack with the console (the default) and cdk-nag: synthesis fails on any finding.
let built: Built;
beforeAll(() => {
  built = buildStack();
});

const only = (type: string): [string, Json] => {
  const all = resourcesOf(built, type);
  expect(all).toHaveLength(1);
  return all[0]!;
};

/**
 * A CloudFormation value as text: literals as they are, `${Id}` for a Ref, `${Id.Attr}` for a
 * Fn::GetAtt, Fn::Join joined. Anything else fails the test.
 */
function render(value: unknown): string {
  if (typeof value === 'string') return value;
  const o = value as Json;
  if (typeof o.Ref === 'string') return `\${${o.Ref}}`;
  const getAtt = o['Fn::GetAtt'] as [string, string] | undefined;
  if (getAtt) return `\${${getAtt[0]}.${getAtt[1]}}`;
  const join = o['Fn::Join'] as [string, unknown[]] | undefined;
  if (join) return join[1].map(render).join(join[0]);
  throw new Error(`cannot render ${JSON.stringify(value)}`);
}

/**
 * What the console's BucketDeployment writes, source by source: each source's files as staged
 * in the cloud assembly (CDK zips them at publish time), with the deploy-time markers the
 * deployment substitutes rendered as their CloudFormation values.
 */
function deployedSources(): Map<string, string>[] {
  const [, deployment] = only('Custom::CDKBucketDeployment');
  const keys = deployment.SourceObjectKeys as string[];
  const markers = deployment.SourceMarkers as Record<string, unknown>[];
  return keys.map((key, i) => {
    const dir = path.join(built.app.outdir, `asset.${key.replace(/\.zip$/, '')}`);
    const files = new Map<string, string>();
    for (const rel of fs.readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
      if (!fs.statSync(path.join(dir, rel)).isFile()) continue;
      let text = fs.readFileSync(path.join(dir, rel), 'utf8');
      for (const [marker, value] of Object.entries(markers[i] ?? {}))
        text = text.split(marker).join(render(value));
      files.set(rel.split(path.sep).join('/'), text);
    }
    return files;
  });
}

/** A policy's directives: name -> sources. */
function directives(policy: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const d of policy.split(';')) {
    const [name, ...sources] = d.trim().split(/\s+/);
    if (name) out.set(name, sources);
  }
  return out;
}

const META_CSP = /<meta http-equiv="Content-Security-Policy" content="([^"]*)" \/>/g;

describe('operator console on AWS', () => {
  it('keeps the files in a private, encrypted bucket that only the distribution can read (OAC)', () => {
    const c = built.stack.console!;
    const files = built.json.Resources[logicalId(c.bucket)]!.Properties!;
    expect(files.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(JSON.stringify(files.BucketEncryption)).toContain('AES256');
    const policies = resourcesOf(built, 'AWS::S3::BucketPolicy').filter(([, p]) =>
      references(p.Bucket, logicalId(c.bucket)),
    );
    expect(policies).toHaveLength(1);
    const statements = (policies[0]![1].PolicyDocument as { Statement: Json[] }).Statement;
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]!.Principal).toEqual({ Service: 'cloudfront.amazonaws.com' });
    expect(allows[0]!.Action).toBe('s3:GetObject');
    expect(references(allows[0]!.Condition, logicalId(c.distribution))).toBe(true);
    // And nothing without TLS.
    expect(
      statements.some(
        (s) => s.Effect === 'Deny' && JSON.stringify(s.Condition).includes('aws:SecureTransport'),
      ),
    ).toBe(true);
    expect(resourcesOf(built, 'AWS::CloudFront::OriginAccessControl')).toHaveLength(1);
  });

  it('serves HTTPS only with a content security policy, HSTS and no framing', () => {
    const [, dist] = only('AWS::CloudFront::Distribution');
    const config = dist.DistributionConfig as Json;
    const behaviour = config.DefaultCacheBehavior as Json;
    expect(behaviour.ViewerProtocolPolicy).toBe('https-only');
    expect(behaviour.AllowedMethods).toEqual(['GET', 'HEAD']);
    expect(JSON.stringify(config.Origins)).toContain('OriginAccessControlId');
    const [policyId, policy] = only('AWS::CloudFront::ResponseHeadersPolicy');
    expect(references(behaviour.ResponseHeadersPolicyId, policyId)).toBe(true);
    const sec = (policy.ResponseHeadersPolicyConfig as Json).SecurityHeadersConfig as Json;
    const csp = JSON.stringify(sec.ContentSecurityPolicy);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain('cognito-identity');
    expect(sec.StrictTransportSecurity).toMatchObject({ Override: true, IncludeSubdomains: true });
    expect(sec.FrameOptions).toEqual({ FrameOption: 'DENY', Override: true });
    expect(sec.ContentTypeOptions).toEqual({ Override: true });
    expect(sec.ReferrerPolicy).toEqual({ ReferrerPolicy: 'no-referrer', Override: true });
  });

  it('signs operators in through a user pool of admin-created users with TOTP MFA available', () => {
    const [, pool] = only('AWS::Cognito::UserPool');
    expect(pool.AdminCreateUserConfig).toMatchObject({ AllowAdminCreateUserOnly: true });
    expect(pool.MfaConfiguration).toBe('OPTIONAL');
    expect(pool.EnabledMfas).toEqual(['SOFTWARE_TOKEN_MFA']);
    expect((pool.Policies as Json).PasswordPolicy).toMatchObject({ MinimumLength: 12 });
    const [, client] = only('AWS::Cognito::UserPoolClient');
    expect(client.GenerateSecret).toBe(false);
    expect(client.ExplicitAuthFlows).toContain('ALLOW_USER_PASSWORD_AUTH');
    expect(client.ExplicitAuthFlows).toContain('ALLOW_REFRESH_TOKEN_AUTH');
  });

  it('gives signed-in operators, and only them, the API operator policy through the identity pool', () => {
    const c = built.stack.console!;
    const [poolId, pool] = only('AWS::Cognito::IdentityPool');
    expect(pool.AllowUnauthenticatedIdentities).toBe(false);
    const [, attachment] = only('AWS::Cognito::IdentityPoolRoleAttachment');
    expect(Object.keys(attachment.Roles as Json)).toEqual(['authenticated']);
    const role = built.json.Resources[logicalId(c.operatorRole)]!.Properties!;
    const trust = JSON.stringify(role.AssumeRolePolicyDocument);
    expect(trust).toContain('sts:AssumeRoleWithWebIdentity');
    expect(trust).toContain('"cognito-identity.amazonaws.com:amr":"authenticated"');
    expect(references(role.AssumeRolePolicyDocument, poolId)).toBe(true);
    expect(role.ManagedPolicyArns).toHaveLength(1);
    expect(references(role.ManagedPolicyArns, logicalId(built.stack.api.operatorPolicy))).toBe(
      true,
    );
    expect(role.Policies).toBeUndefined();
  });

  it("opens the API's CORS to the console's origin only", () => {
    const api = built.json.Resources[logicalId(built.stack.api.httpApi)]!.Properties!;
    const cors = api.CorsConfiguration as Json;
    expect(cors.AllowOrigins).toHaveLength(1);
    expect(references(cors.AllowOrigins, logicalId(built.stack.console!.distribution))).toBe(true);
    expect(cors.AllowHeaders).toEqual(
      expect.arrayContaining(['authorization', 'x-amz-date', 'x-amz-security-token']),
    );
  });

  it("narrows connect-src to this API's origin with a meta policy in the deployed index.html", () => {
    const sources = deployedSources();
    const withIndex = sources.filter((files) => files.has('index.html'));
    expect(withIndex).toHaveLength(1);
    const html = withIndex[0]!.get('index.html')!;
    const metas = [...html.matchAll(META_CSP)];
    expect(metas).toHaveLength(1);
    const meta = metas[0]!;
    // Before any script (a meta policy governs only what follows it), inside <head>.
    expect(html.indexOf('<head>')).toBeLessThan(meta.index);
    expect(html.search(/<script\b/)).toBeGreaterThan(meta.index);
    // Otherwise the page as built; the built file itself has no meta policy (local mode serves it).
    const asBuilt = fs.readFileSync(path.join(CONSOLE_DIST, 'index.html'), 'utf8');
    expect(asBuilt).not.toMatch(/http-equiv/i);
    expect(html.replace(/\n\s*<meta http-equiv="Content-Security-Policy"[^>]*>/, '')).toBe(asBuilt);

    const api = logicalId(built.stack.api.httpApi);
    const suffix = render({ Ref: 'AWS::URLSuffix' });
    const metaPolicy = directives(meta[1]!);
    expect(metaPolicy.get('connect-src')).toEqual([
      "'self'",
      `https://cognito-idp.eu-central-1.${suffix}`,
      `https://cognito-identity.eu-central-1.${suffix}`,
      `https://\${${api}}.execute-api.eu-central-1.${suffix}`,
    ]);
    expect(meta[1]).not.toContain('*');
    // The origin the console calls: config.json's apiUrl.
    const withConfig = sources.filter((files) => files.has('config.json'));
    expect(withConfig).toHaveLength(1);
    const config = JSON.parse(withConfig[0]!.get('config.json')!) as Json;
    expect(config.mode).toBe('cognito');
    expect(config.apiUrl).toBe(`${metaPolicy.get('connect-src')![3]}/`);

    // The header policy: every other directive the same, frame-ancestors only there (browsers
    // ignore it in a meta policy), and the region's execute-api hosts it cannot narrow.
    const [, headers] = only('AWS::CloudFront::ResponseHeadersPolicy');
    const headerPolicy = directives(
      render(
        (
          (headers.ResponseHeadersPolicyConfig as Json).SecurityHeadersConfig as {
            ContentSecurityPolicy: Json;
          }
        ).ContentSecurityPolicy.ContentSecurityPolicy,
      ),
    );
    expect(headerPolicy.get('frame-ancestors')).toEqual(["'none'"]);
    expect(metaPolicy.has('frame-ancestors')).toBe(false);
    expect(headerPolicy.get('connect-src')).toEqual([
      ...metaPolicy.get('connect-src')!.slice(0, 3),
      `https://*.execute-api.eu-central-1.${suffix}`,
    ]);
    const rest = (p: Map<string, string[]>) =>
      [...p].filter(([name]) => name !== 'frame-ancestors' && name !== 'connect-src');
    expect(rest(metaPolicy)).toEqual(rest(headerPolicy));
    expect(rest(metaPolicy).map(([name]) => name)).toEqual(
      expect.arrayContaining(['default-src', 'script-src', 'style-src', 'base-uri']),
    );
  });

  it('deploys the built files under console/ and outputs ConsoleUrl', () => {
    const deployments = resourcesOf(built, 'Custom::CDKBucketDeployment');
    expect(deployments).toHaveLength(1);
    expect(deployments[0]![1].DestinationBucketKeyPrefix).toBe('console/');
    // The built files, and the index.html and config.json written with deploy-time values.
    const sources = deployedSources();
    expect(sources).toHaveLength(3);
    const files = sources.find((s) => [...s.keys()].some((f) => f.startsWith('assets/')))!;
    expect([...files.keys()].some((f) => /^assets\/index-.*\.js$/.test(f))).toBe(true);
    expect(files.has('index.html')).toBe(false);
    expect(files.has('config.json')).toBe(false);
    expect(sources.map((s) => [...s.keys()].filter((f) => !f.startsWith('assets/')))).toEqual(
      expect.arrayContaining([[], ['index.html'], ['config.json']]),
    );
    const out = built.json.Outputs?.ConsoleUrl as Json;
    expect(JSON.stringify(out.Value)).toContain('/console/');
    expect(references(out.Value, logicalId(built.stack.console!.distribution))).toBe(true);
  });

  it("refuses an apiUrl other than the API's default endpoint, which the policy would block", () => {
    const stack = new Stack(testApp(), 'S', { env: { region: 'eu-central-1' } });
    const httpApi = new apigw.HttpApi(stack, 'Api', { createDefaultStage: false });
    const operatorPolicy = new iam.ManagedPolicy(stack, 'Operators', {
      statements: [new iam.PolicyStatement({ actions: ['execute-api:Invoke'], resources: ['*'] })],
    });
    expect(
      () =>
        new OperatorConsole(stack, 'Console', {
          httpApi,
          apiUrl: 'https://api.example.com/',
          operatorPolicy,
        }),
    ).toThrow(/apiUrl must be the HTTP API's default endpoint/);
  });

  it('is left out with -c console=false', () => {
    const app = testApp({
      context: { ...SKIP_BUNDLING, regions: 'eu-central-1', console: 'false' },
    });
    const [stack] = buildApp(app, {});
    const json = Template.fromStack(stack!).toJSON() as Built['json'];
    const types = Object.values(json.Resources).map((r) => r.Type);
    expect(types).not.toContain('AWS::CloudFront::Distribution');
    expect(types).not.toContain('AWS::Cognito::UserPool');
    expect(types).not.toContain('Custom::CDKBucketDeployment');
    expect(json.Outputs?.ConsoleUrl).toBeUndefined();
    expect(stack!.console).toBeUndefined();
    expect(() =>
      buildApp(
        testApp({ context: { ...SKIP_BUNDLING, regions: 'eu-central-1', console: 'no' } }),
        {},
      ),
    ).toThrow(/console: "no" must be true or false/);
  });
});
