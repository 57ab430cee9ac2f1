/**
 * Signing in and the transport that authorizes each API call.
 *
 * - Local mode (`mode: "token"`): the API token, sent as a bearer token.
 * - AWS (`mode: "cognito"`): a user of the Cognito user pool signs in (USER_PASSWORD_AUTH, with
 *   the new-password and TOTP challenges); the identity pool trades the ID token for temporary
 *   credentials of the operator role, and every call is signed with SigV4 (aws4fetch).
 *
 * What the session needs is kept in sessionStorage (gone with the tab), never in localStorage.
 */
import { AwsClient } from 'aws4fetch';
import type { Transport } from './client';

export type ConsoleConfig =
  | { mode: 'token'; apiUrl?: string }
  | {
      mode: 'cognito';
      apiUrl: string;
      region: string;
      userPoolId: string;
      userPoolClientId: string;
      identityPoolId: string;
    };

const KEY = 'webhooks-console-session';

type Stored =
  | { mode: 'token'; token: string }
  | {
      mode: 'cognito';
      idToken: string;
      refreshToken: string;
      idTokenExpiresAt: number;
      username: string;
    };

export function loadSession(): Stored | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? (JSON.parse(raw) as Stored) : undefined;
  } catch {
    return undefined;
  }
}
function saveSession(s: Stored): void {
  sessionStorage.setItem(KEY, JSON.stringify(s));
}
export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

export function rememberToken(token: string): void {
  saveSession({ mode: 'token', token });
}

/**
 * Bearer-token calls (local mode). A 401 means the token is no longer the one the platform
 * takes (local mode makes a new one each start unless API_TOKEN is set): `onRefused` signs out,
 * back to the sign-in form, rather than every page failing on its own.
 */
export function tokenTransport(token: string, onRefused?: () => void): Transport {
  return async (method, url, body) => {
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body }),
    });
    if (res.status === 401) onRefused?.();
    return res;
  };
}

/** The next step of a Cognito sign-in. */
export type SignInStep =
  | { kind: 'done' }
  | { kind: 'newPassword'; session: string }
  | { kind: 'totp'; session: string }
  | { kind: 'unsupported'; challenge: string };

type CognitoConfig = Extract<ConsoleConfig, { mode: 'cognito' }>;

interface AuthResult {
  IdToken: string;
  RefreshToken?: string;
  ExpiresIn: number;
}

async function awsJson<T>(url: string, target: string, body: unknown): Promise<T> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
    body: JSON.stringify(body),
  });
  const json = (await res.json().catch(() => ({}))) as Record<string, unknown>;
  if (!res.ok) {
    const type = String(json.__type ?? 'Error')
      .split('#')
      .pop();
    throw new Error(String(json.message ?? json.Message ?? type));
  }
  return json as T;
}

const idp = (c: CognitoConfig, op: string, body: unknown) =>
  awsJson<{ AuthenticationResult?: AuthResult; ChallengeName?: string; Session?: string }>(
    `https://cognito-idp.${c.region}.amazonaws.com/`,
    `AWSCognitoIdentityProviderService.${op}`,
    body,
  );

function stepOf(
  username: string,
  r: { AuthenticationResult?: AuthResult; ChallengeName?: string; Session?: string },
  refreshToken?: string,
): SignInStep {
  if (r.AuthenticationResult) {
    saveSession({
      mode: 'cognito',
      username,
      idToken: r.AuthenticationResult.IdToken,
      refreshToken: r.AuthenticationResult.RefreshToken ?? refreshToken ?? '',
      idTokenExpiresAt: Date.now() + r.AuthenticationResult.ExpiresIn * 1000,
    });
    return { kind: 'done' };
  }
  const session = r.Session ?? '';
  if (r.ChallengeName === 'NEW_PASSWORD_REQUIRED') return { kind: 'newPassword', session };
  if (r.ChallengeName === 'SOFTWARE_TOKEN_MFA') return { kind: 'totp', session };
  return { kind: 'unsupported', challenge: r.ChallengeName ?? 'unknown' };
}

export async function signIn(
  c: CognitoConfig,
  username: string,
  password: string,
): Promise<SignInStep> {
  const r = await idp(c, 'InitiateAuth', {
    AuthFlow: 'USER_PASSWORD_AUTH',
    ClientId: c.userPoolClientId,
    AuthParameters: { USERNAME: username, PASSWORD: password },
  });
  return stepOf(username, r);
}

export async function answerChallenge(
  c: CognitoConfig,
  username: string,
  step: { kind: 'newPassword' | 'totp'; session: string },
  answer: string,
): Promise<SignInStep> {
  const r = await idp(c, 'RespondToAuthChallenge', {
    ClientId: c.userPoolClientId,
    Session: step.session,
    ChallengeName: step.kind === 'newPassword' ? 'NEW_PASSWORD_REQUIRED' : 'SOFTWARE_TOKEN_MFA',
    ChallengeResponses:
      step.kind === 'newPassword'
        ? { USERNAME: username, NEW_PASSWORD: answer }
        : { USERNAME: username, SOFTWARE_TOKEN_MFA_CODE: answer },
  });
  return stepOf(username, r);
}

interface Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
  expiresAt: number;
}

/** SigV4-signed calls as the identity pool's authenticated (operator) role. */
export function cognitoTransport(c: CognitoConfig, onSignedOut: () => void): Transport {
  let creds: Credentials | undefined;
  let client: AwsClient | undefined;
  const identityUrl = `https://cognito-identity.${c.region}.amazonaws.com/`;

  const idToken = async (): Promise<string> => {
    const s = loadSession();
    if (s?.mode !== 'cognito') throw new Error('Signed out.');
    if (s.idTokenExpiresAt - Date.now() > 60_000) return s.idToken;
    const r = await idp(c, 'InitiateAuth', {
      AuthFlow: 'REFRESH_TOKEN_AUTH',
      ClientId: c.userPoolClientId,
      AuthParameters: { REFRESH_TOKEN: s.refreshToken },
    });
    if (stepOf(s.username, r, s.refreshToken).kind !== 'done') throw new Error('Signed out.');
    return (loadSession() as Extract<Stored, { mode: 'cognito' }>).idToken;
  };

  const signer = async (): Promise<AwsClient> => {
    if (client && creds && creds.expiresAt - Date.now() > 60_000) return client;
    const logins = { [`cognito-idp.${c.region}.amazonaws.com/${c.userPoolId}`]: await idToken() };
    const { IdentityId } = await awsJson<{ IdentityId: string }>(
      identityUrl,
      'AWSCognitoIdentityService.GetId',
      {
        IdentityPoolId: c.identityPoolId,
        Logins: logins,
      },
    );
    const { Credentials: k } = await awsJson<{
      Credentials: {
        AccessKeyId: string;
        SecretKey: string;
        SessionToken: string;
        Expiration: number;
      };
    }>(identityUrl, 'AWSCognitoIdentityService.GetCredentialsForIdentity', {
      IdentityId,
      Logins: logins,
    });
    creds = {
      accessKeyId: k.AccessKeyId,
      secretAccessKey: k.SecretKey,
      sessionToken: k.SessionToken,
      expiresAt: k.Expiration * 1000,
    };
    client = new AwsClient({ ...creds, service: 'execute-api', region: c.region });
    return client;
  };

  return async (method, url, body) => {
    let aws: AwsClient;
    try {
      aws = await signer();
    } catch (err) {
      onSignedOut();
      throw err;
    }
    return aws.fetch(url, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body }),
    });
  };
}
