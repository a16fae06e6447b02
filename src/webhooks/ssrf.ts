import { type LookupAddress, lookup } from 'node:dns';
import { isIP } from 'node:net';

/**
 * Where a webhook may go. Endpoints are URLs that tenants choose, so a
 * request to one must not reach otpd's own machine, its network or a cloud
 * metadata service. Checked at registration and again on every delivery,
 * on the addresses the connection really uses (DNS may answer differently
 * the second time).
 */

/** A range of addresses, and whether OTPD_WEBHOOK_ALLOW_PRIVATE lifts it. */
interface Range {
  bytes: number[];
  bits: number;
  name: string;
  /** Private ranges are allowed with OTPD_WEBHOOK_ALLOW_PRIVATE; the others never. */
  private: boolean;
}

const v4 = (cidr: string, name: string, isPrivate: boolean): Range => {
  const [ip, bits] = cidr.split('/') as [string, string];
  return { bytes: ip.split('.').map(Number), bits: Number(bits), name, private: isPrivate };
};
const v6 = (cidr: string, name: string, isPrivate: boolean): Range => {
  const [ip, bits] = cidr.split('/') as [string, string];
  return { bytes: ipv6Bytes(ip)!, bits: Number(bits), name, private: isPrivate };
};

const IPV4_RANGES: Range[] = [
  v4('0.0.0.0/8', 'an unspecified ("this network") address', false),
  v4('169.254.0.0/16', 'a link-local address (cloud metadata lives there)', false),
  v4('224.0.0.0/4', 'a multicast address', false),
  v4('240.0.0.0/4', 'a reserved or broadcast address', false),
  v4('127.0.0.0/8', 'a loopback address', true),
  v4('10.0.0.0/8', 'a private address', true),
  v4('172.16.0.0/12', 'a private address', true),
  v4('192.168.0.0/16', 'a private address', true),
  v4('100.64.0.0/10', 'a carrier-grade NAT (shared) address', true),
  v4('192.0.0.0/24', 'an IETF protocol address', true),
  v4('198.18.0.0/15', 'a benchmarking address', true),
  v4('192.0.2.0/24', 'a documentation address', true),
  v4('198.51.100.0/24', 'a documentation address', true),
  v4('203.0.113.0/24', 'a documentation address', true),
];

/** IPv6 ranges that carry an IPv4 address: it is judged as IPv4. [range, offset of the IPv4 bytes] */
const EMBEDDING_V4: [Range, number][] = [
  [v6('::ffff:0:0/96', 'IPv4-mapped', false), 12],
  [v6('64:ff9b::/96', 'NAT64', false), 12],
  [v6('64:ff9b:1::/48', 'local-use NAT64', false), 12],
  [v6('::ffff:0:0:0/96', 'IPv4-translated', false), 12],
  [v6('2002::/16', '6to4', false), 2],
];

const IPV6_RANGES: Range[] = [
  v6('::/128', 'the unspecified address', false),
  v6('ff00::/8', 'a multicast address', false),
  v6('fe80::/10', 'a link-local address', false),
  v6('fd00:ec2::254/128', 'a cloud metadata address', false),
  v6('::1/128', 'a loopback address', true),
  // IPv4-compatible (deprecated): ::a.b.c.d reaches a.b.c.d on some stacks.
  v6('::/96', 'an IPv4-compatible address', true),
  v6('fc00::/7', 'a unique local (private) address', true),
  v6('fec0::/10', 'a site-local address', true),
  v6('2001::/32', 'a Teredo address', true),
  v6('2001:db8::/32', 'a documentation address', true),
  v6('100::/64', 'a discard address', true),
];

function ipv4Bytes(ip: string): number[] {
  return ip.split('.').map(Number);
}

/** The 16 bytes of an IPv6 address (zone dropped), or undefined when it is not one. */
function ipv6Bytes(ip: string): number[] | undefined {
  let text = ip.toLowerCase().replace(/^\[|\]$/g, '');
  const zone = text.indexOf('%');
  if (zone >= 0) text = text.slice(0, zone);
  if (isIP(text) !== 6) return undefined;
  // A dotted IPv4 tail (::ffff:127.0.0.1) becomes two groups.
  const dotted = text.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const [a, b, c, d] = ipv4Bytes(dotted[2]!) as [number, number, number, number];
    text = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : Array(8 - headGroups.length - tailGroups.length).fill('0');
  const groups = [...headGroups, ...zeros, ...tailGroups];
  return groups.flatMap((g) => {
    const n = Number.parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

function inRange(bytes: number[], range: Range): boolean {
  let bits = range.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (range.bytes[i]! & mask)) return false;
  }
  return true;
}

/**
 * Why a webhook may not connect to `ip`, or null when it may. With
 * `allowPrivate`, loopback and private ranges pass; unspecified, multicast,
 * link-local and metadata addresses never do.
 */
export function refusedAddress(ip: string, allowPrivate: boolean): string | null {
  const family = isIP(ip.replace(/^\[|\]$/g, '').replace(/%.*$/, ''));
  let bytes: number[];
  let prefix = '';
  if (family === 4) {
    bytes = ipv4Bytes(ip);
  } else if (family === 6) {
    const six = ipv6Bytes(ip)!;
    const embedding = EMBEDDING_V4.find(([range]) => inRange(six, range));
    if (embedding) {
      bytes = six.slice(embedding[1], embedding[1] + 4);
      prefix = `an ${embedding[0].name} form of `;
    } else {
      const range = IPV6_RANGES.find((r) => inRange(six, r));
      if (!range || (range.private && allowPrivate)) return null;
      return `${ip} is ${range.name}`;
    }
  } else {
    return `${ip} is not an IP address`;
  }
  const range = IPV4_RANGES.find((r) => inRange(bytes, r));
  if (!range || (range.private && allowPrivate)) return null;
  return prefix ? `${ip} is ${prefix}${range.name.replace(/^an? /, '')}` : `${ip} is ${range.name}`;
}

/** A webhook request that otpd will not make. */
export class WebhookTargetError extends Error {
  override name = 'WebhookTargetError';
}

/** The URL's host without IPv6 brackets. */
const hostOf = (url: URL) => url.hostname.replace(/^\[|\]$/g, '');

/**
 * Checks a URL's form (http or https, no credentials) and every address its
 * host resolves to. Throws WebhookTargetError saying why it is refused.
 */
export async function checkWebhookTarget(url: URL, allowPrivate: boolean): Promise<void> {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new WebhookTargetError('The webhook URL must use http or https.');
  }
  if (url.username || url.password) {
    throw new WebhookTargetError('The webhook URL must not carry a user name or password.');
  }
  const host = hostOf(url);
  if (!host) throw new WebhookTargetError('The webhook URL has no host.');
  const addresses = isIP(host) ? [host] : await resolveAll(host);
  for (const address of addresses) {
    const refused = refusedAddress(address, allowPrivate);
    if (refused) throw new WebhookTargetError(refusalMessage(host, address, refused, allowPrivate));
  }
}

function refusalMessage(host: string, address: string, refused: string, allowPrivate: boolean): string {
  const via = host === address ? '' : `${host} resolves to ${address}, and `;
  const hint = allowPrivate ? '' : ' (OTPD_WEBHOOK_ALLOW_PRIVATE=true allows private and loopback targets)';
  return `The webhook URL is refused: ${via}${refused}; webhooks go to public addresses only${hint}.`;
}

function resolveAll(host: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    lookup(host, { all: true, verbatim: true }, (error, addresses) => {
      if (error)
        reject(new WebhookTargetError(`The webhook URL's host ${host} does not resolve (${error.code}).`));
      else resolve(addresses.map((a) => a.address));
    });
  });
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for http.request that resolves the host and refuses it when
 * any of its addresses is refused, so the connection goes only to an
 * address that was checked (no second resolution to rebind).
 */
export function guardedLookup(allowPrivate: boolean) {
  return (
    hostname: string,
    options: { family?: number | string; all?: boolean },
    callback: LookupCallback,
  ) => {
    const family =
      options.family === 'IPv4' ? 4 : options.family === 'IPv6' ? 6 : Number(options.family ?? 0);
    lookup(hostname, { all: true, verbatim: true, family: family as 0 | 4 | 6 }, (error, addresses) => {
      if (error) return callback(error, '');
      for (const { address } of addresses) {
        const refused = refusedAddress(address, allowPrivate);
        if (refused)
          return callback(
            new WebhookTargetError(refusalMessage(hostname, address, refused, allowPrivate)),
            '',
          );
      }
      if (options.all) return callback(null, addresses);
      const first = addresses[0];
      if (!first)
        return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '');
      callback(null, first.address, first.family);
    });
  };
}
