/**
 * Planted secrets for the scanner tests: one or more per rule, built at run time from a seeded
 * generator and split prefixes, so no literal credential sits in this repository (the repo's own
 * sources must scan clean, and push protection must stay quiet).
 */

/** Deterministic pseudo-random string over `alphabet` (mulberry32). */
export function fake(n: number, seed: number, alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'): string {
  let t = seed >>> 0;
  let out = '';
  for (let i = 0; i < n; i++) {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    out += alphabet[((r ^ (r >>> 14)) >>> 0) % alphabet.length];
  }
  return out;
}

const UPPER_DIGITS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
const HEX = '0123456789abcdef';
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const j = (...parts: string[]): string => parts.join('');

export interface Planted {
  rule: string;
  /** The secret itself: must not survive redaction anywhere. */
  secret: string;
  /** How it appears in output (the secret in its context). */
  line: string;
}

function planted(rule: string, secret: string, line = secret): Planted {
  return { rule, secret, line };
}

const pemBody = Array.from({ length: 6 }, (_, i) => fake(64, 900 + i, B64)).join('\n');
const rsaKey = j('-----BEGIN RSA ', 'PRIVATE KEY-----\n', pemBody, '\n-----END RSA ', 'PRIVATE KEY-----');
const opensshKey = j('-----BEGIN OPENSSH ', 'PRIVATE KEY-----\n', fake(70, 950, B64), '\n', fake(70, 951, B64), '\n-----END OPENSSH ', 'PRIVATE KEY-----');

const awsSecret = fake(40, 2, B64);
const urlPassword = j('Pg', fake(14, 3));
const azureKey = j(fake(86, 4, B64), '==');

export const PLANTED: readonly Planted[] = [
  planted('aws-access-key-id', j('AKIA', fake(16, 1, UPPER_DIGITS))),
  planted('aws-secret-access-key', awsSecret, j('aws_secret_access_key = ', awsSecret)),
  planted('github-token', j('gh', 'p_', fake(36, 5))),
  planted('github-token', j('gh', 's_', fake(36, 6))),
  planted('github-fine-grained-pat', j('github', '_pat_', fake(22, 7), '_', fake(59, 8))),
  planted('gitlab-token', j('gl', 'pat-', fake(20, 9))),
  planted('slack-token', j('xo', 'xb-', '2345678901234-', '3456789012345-', fake(24, 10))),
  planted('slack-webhook', j('https://hooks.', 'slack.com/services/', 'T', fake(8, 11, UPPER_DIGITS), '/B', fake(8, 12, UPPER_DIGITS), '/', fake(24, 13))),
  planted('anthropic-api-key', j('sk-', 'ant-', 'api03-', fake(93, 14, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'), 'AA')),
  planted('openai-api-key', j('sk-', 'proj-', fake(60, 15, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'))),
  planted('openai-api-key', j('sk-', fake(20, 16), 'T3Blbk', 'FJ', fake(20, 17))),
  planted('google-api-key', j('AI', 'za', fake(35, 18))),
  planted('google-oauth-client-secret', j('GOC', 'SPX-', fake(28, 19))),
  planted('stripe-key', j('sk', '_live_', fake(32, 20))),
  planted('npm-token', j('np', 'm_', fake(36, 21))),
  planted('pypi-token', j('pypi-', 'AgEIcHlwaS5vcmc', fake(60, 22))),
  planted('huggingface-token', j('h', 'f_', fake(34, 23))),
  planted('sendgrid-api-key', j('S', 'G.', fake(22, 24), '.', fake(43, 25))),
  planted('digitalocean-token', j('do', 'p_v1_', fake(64, 26, HEX))),
  planted('shopify-token', j('shp', 'at_', fake(32, 27, HEX))),
  planted('azure-storage-key', azureKey, j('DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=', azureKey, ';EndpointSuffix=core.windows.net')),
  planted('jwt', j('ey', 'JhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9', '.', 'ey', 'JzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4ifQ', '.', fake(43, 28, 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-'))),
  planted('url-credentials', urlPassword, j('postgres://app_user:', urlPassword, '@db.internal:5432/app')),
  planted('url-credentials', j('x', fake(30, 29)), j('https://x-access-', 'token:', 'x', fake(30, 29), '@git.example.com/acme/repo.git')),
  planted('private-key', rsaKey),
  planted('private-key', opensshKey),
];

/** Distinct rule ids in the corpus. */
export const PLANTED_RULES = [...new Set(PLANTED.map((p) => p.rule))];
