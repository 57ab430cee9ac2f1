/** Helpers for the CDK tests: build a stack once per file, read its template. */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { App, type AppProps, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import type { WebhooksSettings } from '../../lib/config';
import { WebhooksStack } from '../../lib/webhooks-stack';

export type Json = Record<string, unknown>;

/** Skips esbuild: the template is the same, only the asset contents are missing. */
export const SKIP_BUNDLING = { 'aws:cdk:bundling-stacks': [] };

export interface Built {
  readonly app: App;
  readonly stack: WebhooksStack;
  readonly template: Template;
  readonly json: {
    Resources: Record<
      string,
      { Type: string; Properties?: Json; DeletionPolicy?: string; UpdateReplacePolicy?: string }
    >;
    Outputs?: Record<string, Json>;
  };
}

/**
 * The cloud assemblies of this test file's Apps, under one temporary folder removed after the
 * file. An App without an outdir synthesizes into a new folder of the system's temp dir that
 * nothing removes (with bundled assets, up to 22 MB each).
 */
let assemblies: string | undefined;
afterAll(() => {
  if (assemblies) fs.rmSync(assemblies, { recursive: true, force: true });
});

/** A CDK App that synthesizes into this file's temporary folder (unless `props.outdir` says where). */
export function testApp(props: AppProps = {}): App {
  assemblies ??= fs.mkdtempSync(path.join(os.tmpdir(), 'webhooks-cdk-'));
  return new App({ outdir: fs.mkdtempSync(path.join(assemblies, 'app-')), ...props });
}

/** One region's stack with cdk-nag attached, as bin/app.ts builds it (Template.fromStack fails on a nag error). */
export function buildStack(
  settings: WebhooksSettings = {},
  opts: { bundle?: boolean; outdir?: string } = {},
): Built {
  const app = testApp({
    context: opts.bundle ? {} : SKIP_BUNDLING,
    ...(opts.outdir ? { outdir: opts.outdir } : {}),
  });
  const stack = new WebhooksStack(app, 'Webhooks-eu-central-1', {
    env: { region: 'eu-central-1' },
    settings,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON() as Built['json'] };
}

export function logicalId(construct: IConstruct): string {
  const child = construct.node.defaultChild ?? construct;
  return Stack.of(construct).getLogicalId(child as CfnElement);
}

/** Every resource of a type, keyed by logical id. */
export function resourcesOf(built: Built, type: string): [string, Json][] {
  return Object.entries(built.json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

export function propsOf(built: Built, id: string): Json {
  const r = built.json.Resources[id];
  if (r === undefined) throw new Error(`no resource ${id}`);
  return r.Properties ?? {};
}

/** True when `value` (any JSON) references the logical id by Ref or Fn::GetAtt. */
export function references(value: unknown, id: string): boolean {
  if (Array.isArray(value)) return value.some((v) => references(v, id));
  if (value !== null && typeof value === 'object') {
    const o = value as Json;
    if (o.Ref === id) return true;
    const getAtt = o['Fn::GetAtt'];
    if (Array.isArray(getAtt) && getAtt[0] === id) return true;
    return Object.values(o).some((v) => references(v, id));
  }
  return false;
}

export interface Statement {
  readonly Effect: string;
  readonly Action: string | string[];
  readonly Resource?: unknown;
  readonly Condition?: unknown;
}

/** Every IAM statement of the stack: role default policies, inline role policies, managed policies. */
export function allStatements(
  built: Built,
): { policy: string; roles: unknown; statement: Statement }[] {
  const out: { policy: string; roles: unknown; statement: Statement }[] = [];
  for (const [id, r] of Object.entries(built.json.Resources)) {
    const p = r.Properties ?? {};
    const docs: unknown[] = [];
    if (r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
      docs.push(p.PolicyDocument);
    if (r.Type === 'AWS::IAM::Role')
      for (const inline of (p.Policies as { PolicyDocument: unknown }[] | undefined) ?? [])
        docs.push(inline.PolicyDocument);
    for (const doc of docs) {
      for (const statement of (doc as { Statement?: Statement[] }).Statement ?? []) {
        out.push({
          policy: id,
          roles: r.Type === 'AWS::IAM::Role' ? [{ Ref: id }] : p.Roles,
          statement,
        });
      }
    }
  }
  return out;
}

export function actionsOf(s: Statement): string[] {
  return Array.isArray(s.Action) ? s.Action : [s.Action];
}

/** The allowed actions a role gets on a resource (statements whose Resource references it). */
export function actionsOn(built: Built, roleId: string, resourceId: string): Set<string> {
  const actions = new Set<string>();
  for (const { roles, statement } of allStatements(built)) {
    if (statement.Effect !== 'Allow' || !references(roles, roleId)) continue;
    if (!references(statement.Resource, resourceId)) continue;
    for (const a of actionsOf(statement)) actions.add(a);
  }
  return actions;
}

/** Actions that could change or remove a stored request, or match such an action by wildcard. */
const PAYLOAD_FORBIDDEN = [
  'dynamodb:UpdateItem',
  'dynamodb:DeleteItem',
  'dynamodb:BatchWriteItem',
  'dynamodb:PartiQLUpdate',
  'dynamodb:PartiQLDelete',
];

function matchesForbidden(action: string): boolean {
  if (action === '*') return true;
  const pattern = new RegExp(
    `^${action.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`,
    'i',
  );
  return PAYLOAD_FORBIDDEN.some((f) => pattern.test(f));
}

/** Statements granting any write beyond PutItem on the Payloads table (or on every resource). */
export function payloadWriteViolations(built: Built, payloadsId: string): string[] {
  const found: string[] = [];
  for (const { policy, statement } of allStatements(built)) {
    if (statement.Effect !== 'Allow') continue;
    const onPayloads =
      references(statement.Resource, payloadsId) ||
      JSON.stringify(statement.Resource ?? '') === '"*"';
    if (!onPayloads) continue;
    for (const a of actionsOf(statement)) if (matchesForbidden(a)) found.push(`${policy}: ${a}`);
  }
  return found;
}

export function envOf(built: Built, fnId: string): Record<string, unknown> {
  const env = (
    propsOf(built, fnId).Environment as { Variables?: Record<string, unknown> } | undefined
  )?.Variables;
  if (env === undefined) throw new Error(`${fnId} has no environment`);
  return env;
}

/** The ASL of a state machine whose DefinitionString is a Fn::Join; tokens become `placeholder`. */
export function definitionOf(built: Built, stateMachineId: string, placeholder: string): Json {
  const def = propsOf(built, stateMachineId).DefinitionString;
  if (typeof def === 'string') return JSON.parse(def) as Json;
  const parts = (def as { 'Fn::Join': [string, unknown[]] })['Fn::Join'][1];
  return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : placeholder)).join('')) as Json;
}
