import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { buildApp } from '../../lib/app';
import {
  type Built,
  buildStack,
  type Json,
  logicalId,
  references,
  resourcesOf,
  SKIP_BUNDLING,
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

  it('deploys the built files under console/ and outputs ConsoleUrl', () => {
    const deployments = resourcesOf(built, 'Custom::CDKBucketDeployment');
    expect(deployments).toHaveLength(1);
    expect(deployments[0]![1].DestinationBucketKeyPrefix).toBe('console/');
    // The built files and a generated config.json.
    expect((deployments[0]![1].SourceObjectKeys as unknown[]).length).toBe(2);
    const out = built.json.Outputs?.ConsoleUrl as Json;
    expect(JSON.stringify(out.Value)).toContain('/console/');
    expect(references(out.Value, logicalId(built.stack.console!.distribution))).toBe(true);
  });

  it('is left out with -c console=false', () => {
    const app = new App({
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
        new App({ context: { ...SKIP_BUNDLING, regions: 'eu-central-1', console: 'no' } }),
        {},
      ),
    ).toThrow(/console: "no" must be true or false/);
  });
});
