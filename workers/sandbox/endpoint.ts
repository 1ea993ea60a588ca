/**
 * policy.network = "deny" fails closed: the agent may reach its model endpoint and nothing else, and
 * only a loopback endpoint can be relayed into the sandbox's empty network namespace (a remote one
 * would need TLS for a host name the relay cannot vouch for). Pure.
 */

export interface Endpoint {
  host: string;
  port: number;
}

export type EndpointVerdict = { ok: true; endpoint: Endpoint } | { ok: false; message: string };

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|localhost|\[?::1\]?)$/i;

export function loopbackEndpoint(url: string | null, variableHint: string): EndpointVerdict {
  if (!url) return { ok: false, message: `policy.network=deny: the agent's model endpoint is its vendor's remote default (${variableHint} is not set); only a loopback endpoint can be reached from the sandbox, so the step did not run` };
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { ok: false, message: `policy.network=deny: model endpoint ${JSON.stringify(url)} is not a URL` };
  }
  if (!LOOPBACK.test(u.hostname)) {
    return { ok: false, message: `policy.network=deny: model endpoint ${u.host} is not on loopback; the sandbox can only relay a loopback endpoint, so the step did not run` };
  }
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return { ok: true, endpoint: { host: u.hostname.replace(/^\[|\]$/g, '') === 'localhost' ? '127.0.0.1' : u.hostname.replace(/^\[|\]$/g, ''), port } };
}
