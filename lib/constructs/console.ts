import fs from 'node:fs';
import path from 'node:path';
import { CfnOutput, Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as apigw from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import { consoleCsp, withConsoleCspMeta } from './console-csp';

/** Where `npm run console:build` (run by `npm ci`) puts the console's static files. */
export const CONSOLE_DIST = path.resolve(__dirname, '../../console/dist');
/** The console lives under this path, as in local mode (`http://127.0.0.1:3000/console/`). */
export const CONSOLE_PREFIX = 'console/';
/** Files of the build the deployment writes itself (index.html with its meta policy, config.json). */
const GENERATED_FILES = ['index.html', 'config.json'] as const;

export interface OperatorConsoleProps {
  /** The HTTP API the console calls; CORS is opened for the console's origin only. */
  readonly httpApi: apigw.HttpApi;
  /**
   * Its invoke URL (the console's `apiUrl`): the default endpoint of its `$default` stage,
   * whose origin the console's meta content security policy allows.
   */
  readonly apiUrl: string;
  /** What signed-in operators may call (the API's operator policy). */
  readonly operatorPolicy: iam.IManagedPolicy;
  /** The built console. Default console/dist. */
  readonly assetsDir?: string;
  /** Of the user pool and the buckets. Default RETAIN (users survive a stack replacement). */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The operator console on AWS (README "Operator console"): its static files in a private
 * bucket behind CloudFront (origin access control, HTTPS only, security headers, and a second
 * content security policy in index.html that names this API's origin), a Cognito user pool of
 * admin-created operators (TOTP MFA available), and an identity pool whose authenticated role
 * carries the API's operator policy. The browser signs every API call with SigV4 using those
 * temporary credentials; the API itself is unchanged.
 */
export class OperatorConsole extends Construct {
  readonly bucket: s3.Bucket;
  readonly logBucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  readonly userPool: cognito.UserPool;
  readonly userPoolClient: cognito.UserPoolClient;
  readonly identityPool: cognito.CfnIdentityPool;
  readonly operatorRole: iam.Role;
  /** https://<distribution>/console/ */
  readonly url: string;

  constructor(scope: Construct, id: string, props: OperatorConsoleProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const assetsDir = props.assetsDir ?? CONSOLE_DIST;
    if (!fs.existsSync(path.join(assetsDir, 'index.html'))) {
      throw new Error(
        `The operator console is not built (${assetsDir}/index.html is missing): run \`npm run console:build\`, or leave the console out with -c console=false`,
      );
    }
    const autoDelete = removalPolicy === RemovalPolicy.DESTROY;

    // ---- static files --------------------------------------------------------------------
    this.logBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      // CloudFront standard logs are written with ACLs.
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ expiration: Duration.days(90) }],
      removalPolicy,
      autoDeleteObjects: autoDelete,
    });
    Validations.of(this.logBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason:
        'This bucket receives the access logs of the console bucket and distribution; logging it would loop.',
    });
    this.bucket = new s3.Bucket(this, 'Files', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: this.logBucket,
      serverAccessLogsPrefix: 's3/',
      removalPolicy,
      autoDeleteObjects: autoDelete,
    });

    const cognitoIdp = `https://cognito-idp.${stack.region}.${stack.urlSuffix}`;
    const cognitoIdentity = `https://cognito-identity.${stack.region}.${stack.urlSuffix}`;
    // The console calls the API's default endpoint; its origin is named in the index.html meta
    // policy below, so the console's apiUrl must be that endpoint.
    const apiOrigin = `https://${props.httpApi.apiId}.execute-api.${stack.region}.${stack.urlSuffix}`;
    if (
      JSON.stringify(stack.resolve(props.apiUrl)) !== JSON.stringify(stack.resolve(`${apiOrigin}/`))
    ) {
      throw new Error(
        "The console's apiUrl must be the HTTP API's default endpoint (https://<api id>.execute-api.<region>.<suffix>/): the console's content security policy allows that origin only",
      );
    }
    // Two content security policies, both enforced (README "Operator console"). This header one
    // goes with every file and carries frame-ancestors, but its connect-src can only name the
    // region's execute-api hosts: the API's CORS names the distribution's domain, the
    // distribution names this policy, so a policy naming the API would close a reference cycle
    // (API -> Distribution -> policy -> API) CloudFormation refuses. The meta policy written
    // into index.html at deploy time (below) narrows connect-src to this API's own origin.
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'Webhooks console: CSP, HSTS, no framing, no sniffing, no referrer',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          override: true,
          contentSecurityPolicy: consoleCsp(
            {
              cognitoIdp,
              cognitoIdentity,
              api: `https://*.execute-api.${stack.region}.${stack.urlSuffix}`,
            },
            'header',
          ),
        },
        strictTransportSecurity: {
          override: true,
          accessControlMaxAge: Duration.days(365),
          includeSubdomains: true,
        },
        contentTypeOptions: { override: true },
        frameOptions: { override: true, frameOption: cloudfront.HeadersFrameOption.DENY },
        referrerPolicy: {
          override: true,
          referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER,
        },
      },
    });
    // `/` and `/console` lead to `/console/`; a path ending in `/` serves its index.html.
    const paths = new cloudfront.Function(this, 'Paths', {
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      comment: 'Webhooks console: index.html for directory paths',
      code: cloudfront.FunctionCode.fromInline(`function handler(event) {
  var r = event.request;
  if (r.uri === '/' || r.uri === '/console') {
    return { statusCode: 302, statusDescription: 'Found', headers: { location: { value: '/${CONSOLE_PREFIX}' } } };
  }
  if (r.uri.endsWith('/')) r.uri += 'index.html';
  return r;
}`),
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'Webhooks operator console',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
        responseHeadersPolicy: headers,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        functionAssociations: [
          { function: paths, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST },
        ],
      },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
      enableLogging: true,
      logBucket: this.logBucket,
      logFilePrefix: 'cloudfront/',
    });
    this.url = `https://${this.distribution.distributionDomainName}/${CONSOLE_PREFIX}`;
    Validations.of(this.distribution).acknowledge(
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'Operators may work from anywhere; sign-in (Cognito) and SigV4 guard the data, not geography.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'Static files only; every API call is authorized by IAM. Attach a WAF web ACL per deployment if wanted.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'The default *.cloudfront.net certificate cannot pin a minimum TLS version; viewers are HTTPS only.',
      },
    );

    // ---- operators -----------------------------------------------------------------------
    this.userPool = new cognito.UserPool(this, 'Operators', {
      userPoolName: `${stack.stackName}-operators`,
      selfSignUpEnabled: false,
      signInAliases: { username: true, email: true },
      mfa: cognito.Mfa.OPTIONAL,
      mfaSecondFactor: { otp: true, sms: false },
      passwordPolicy: {
        minLength: 12,
        requireLowercase: true,
        requireUppercase: true,
        requireDigits: true,
        requireSymbols: true,
        tempPasswordValidity: Duration.days(3),
      },
      accountRecovery: cognito.AccountRecovery.EMAIL_ONLY,
      removalPolicy,
    });
    Validations.of(this.userPool).acknowledge(
      {
        id: 'AwsSolutions-COG2',
        reason:
          'TOTP MFA is available to every operator; making it mandatory is a per-organisation choice.',
      },
      {
        id: 'AwsSolutions-COG3',
        reason:
          'Threat protection needs the Plus feature plan (paid per user); left to the deployer.',
      },
      {
        id: 'AwsSolutions-COG8',
        reason:
          'The Plus feature plan is paid per active user; a handful of admin-created operators do not need it.',
      },
    );
    this.userPoolClient = this.userPool.addClient('ConsoleClient', {
      // A browser app cannot keep a client secret.
      generateSecret: false,
      authFlows: { userPassword: true },
      preventUserExistenceErrors: true,
      idTokenValidity: Duration.hours(1),
      accessTokenValidity: Duration.hours(1),
      refreshTokenValidity: Duration.hours(12),
    });
    this.identityPool = new cognito.CfnIdentityPool(this, 'IdentityPool', {
      allowUnauthenticatedIdentities: false,
      cognitoIdentityProviders: [
        {
          clientId: this.userPoolClient.userPoolClientId,
          providerName: this.userPool.userPoolProviderName,
          serverSideTokenCheck: true,
        },
      ],
    });
    this.operatorRole = new iam.Role(this, 'OperatorRole', {
      description: 'Webhooks console: signed-in operators (the API operator policy)',
      assumedBy: new iam.FederatedPrincipal(
        'cognito-identity.amazonaws.com',
        {
          StringEquals: { 'cognito-identity.amazonaws.com:aud': this.identityPool.ref },
          'ForAnyValue:StringLike': { 'cognito-identity.amazonaws.com:amr': 'authenticated' },
        },
        'sts:AssumeRoleWithWebIdentity',
      ),
      managedPolicies: [props.operatorPolicy],
      maxSessionDuration: Duration.hours(1),
    });
    new cognito.CfnIdentityPoolRoleAttachment(this, 'IdentityPoolRoles', {
      identityPoolId: this.identityPool.ref,
      roles: { authenticated: this.operatorRole.roleArn },
    });

    // The browser calls the API from the console's origin: CORS for that origin only.
    const cfnApi = props.httpApi.node.defaultChild as apigw.CfnApi;
    cfnApi.corsConfiguration = {
      allowOrigins: [`https://${this.distribution.distributionDomainName}`],
      allowMethods: ['GET', 'POST', 'PUT', 'DELETE'],
      allowHeaders: [
        'authorization',
        'content-type',
        'x-amz-date',
        'x-amz-security-token',
        'x-amz-content-sha256',
      ],
      maxAge: 600,
    };

    // ---- files and their configuration ---------------------------------------------------
    const deployment = new s3deploy.BucketDeployment(this, 'Deploy', {
      destinationBucket: this.bucket,
      destinationKeyPrefix: CONSOLE_PREFIX,
      sources: [
        // index.html and config.json are written here, with deploy-time values; the built
        // index.html is read now and gets the meta policy naming this API's origin.
        s3deploy.Source.asset(assetsDir, { exclude: [...GENERATED_FILES] }),
        s3deploy.Source.data(
          'index.html',
          withConsoleCspMeta(fs.readFileSync(path.join(assetsDir, 'index.html'), 'utf8'), {
            cognitoIdp,
            cognitoIdentity,
            api: apiOrigin,
          }),
        ),
        s3deploy.Source.jsonData('config.json', {
          mode: 'cognito',
          apiUrl: props.apiUrl,
          region: stack.region,
          userPoolId: this.userPool.userPoolId,
          userPoolClientId: this.userPoolClient.userPoolClientId,
          identityPoolId: this.identityPool.ref,
        }),
      ],
      distribution: this.distribution,
      distributionPaths: [`/${CONSOLE_PREFIX}*`],
      memoryLimit: 256,
    });
    acknowledgeDeploymentHandler(stack, deployment, this.bucket);

    new CfnOutput(stack, 'ConsoleUrl', {
      description: 'Operator console (sign in with a user of ConsoleUserPoolId)',
      value: this.url,
    });
    new CfnOutput(stack, 'ConsoleUserPoolId', {
      description:
        'Create operators: aws cognito-idp admin-create-user --user-pool-id <this> --username <name>',
      value: this.userPool.userPoolId,
    });
  }
}

/** BucketDeployment's handler is a stack-level singleton from aws-cdk-lib: its findings are CDK's. */
function acknowledgeDeploymentHandler(
  stack: Stack,
  deployment: s3deploy.BucketDeployment,
  bucket: s3.Bucket,
): void {
  const reason =
    'CDK BucketDeployment handler (aws-cdk-lib): copies the console files from the CDK asset bucket into the console bucket at deploy time; role, runtime and policy are CDK-managed.';
  const region = Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region;
  const bucketId = stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket);
  const wildcards = [
    'Action::s3:GetBucket*',
    'Action::s3:GetObject*',
    'Action::s3:List*',
    'Action::s3:DeleteObject*',
    'Action::s3:Abort*',
    'Resource::*',
    `Resource::<${bucketId}.Arn>/*`,
    `Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-${region}/*`,
  ];
  const targets: Construct[] = [deployment];
  for (const child of stack.node.children) {
    if (child.node.id.startsWith('Custom::CDKBucketDeployment')) targets.push(child as Construct);
  }
  for (const t of targets) {
    Validations.of(t).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason,
      },
      { id: 'AwsSolutions-L1', reason },
      ...wildcards.map((w) => ({ id: `AwsSolutions-IAM5[${w}]`, reason })),
    );
  }
}
