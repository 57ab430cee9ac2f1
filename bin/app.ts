import { App } from 'aws-cdk-lib';
import { buildApp } from '../lib/app';

// `npx cdk synth|deploy --all -c regions=eu-central-1,us-east-1`: one stack per region.
buildApp(new App());
