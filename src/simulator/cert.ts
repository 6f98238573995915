/**
 * A small PKI like a Proxmox VE node's, made at start with node:crypto alone: a self-signed CA
 * (pve-root-ca) and a server certificate it signs (pve-ssl). Only the DER a certificate needs
 * is encoded here.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';

export interface GeneratedPki {
  caCertPem: string;
  certPem: string;
  keyPem: string;
  /** SHA-256 fingerprint of the server certificate, `AB:CD:...`. */
  fingerprint256: string;
}

// DER encoding: tag, length, value.
function der(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  const n = body.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
    len = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), len, body]);
}
const seq = (...c: Buffer[]) => der(0x30, ...c);
const set = (...c: Buffer[]) => der(0x31, ...c);
const explicit = (n: number, ...c: Buffer[]) => der(0xa0 + n, ...c);
const octets = (b: Buffer) => der(0x04, b);
const bits = (b: Buffer) => der(0x03, Buffer.from([0]), b);
const bool = (v: boolean) => der(0x01, Buffer.from([v ? 0xff : 0]));
const utf8 = (s: string) => der(0x0c, Buffer.from(s, 'utf8'));

function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const trimmed = b.subarray(i);
  // A set top bit would read as negative: prefix a zero byte.
  return der(0x02, (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const out = [a * 40 + b];
  for (const n of rest) {
    const chunk = [n & 0x7f];
    for (let v = n >>> 7; v > 0; v >>>= 7) chunk.unshift(0x80 | (v & 0x7f));
    out.push(...chunk);
  }
  return der(0x06, Buffer.from(out));
}

function time(d: Date): Buffer {
  const iso = d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  // UTCTime until 2049, GeneralizedTime after (RFC 5280).
  return d.getUTCFullYear() < 2050
    ? der(0x17, Buffer.from(`${iso.slice(2)}Z`))
    : der(0x18, Buffer.from(`${iso}Z`));
}

const OID = {
  ecdsaSha256: '1.2.840.10045.4.3.2',
  cn: '2.5.4.3',
  o: '2.5.4.10',
  ou: '2.5.4.11',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  subjectAltName: '2.5.29.17',
  subjectKeyId: '2.5.29.14',
  authorityKeyId: '2.5.29.35',
};

const name = (attrs: [string, string][]) =>
  seq(...attrs.map(([type, value]) => set(seq(oid(type), utf8(value)))));

const extension = (id: string, critical: boolean, value: Buffer) =>
  seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));

/** keyUsage bits, numbered as in RFC 5280 (bit 0 is the highest bit of the first byte). */
function keyUsage(...bitNumbers: number[]): Buffer {
  let mask = 0;
  for (const n of bitNumbers) mask |= 0x80 >> n;
  const unused = mask ? Math.min(...bitNumbers.map((n) => 7 - n)) : 0;
  return der(0x03, Buffer.from([unused, mask]));
}

function san(dnsNames: string[], ips: string[]): Buffer {
  const entries = dnsNames.map((d) => der(0x82, Buffer.from(d)));
  for (const ip of ips) {
    if (isIP(ip) === 4) entries.push(der(0x87, Buffer.from(ip.split('.').map(Number))));
    else if (isIP(ip) === 6) entries.push(der(0x87, ipv6Bytes(ip)));
  }
  return seq(...entries);
}

function ipv6Bytes(ip: string): Buffer {
  const [head = '', tail = ''] = ip.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h;
  return Buffer.from(
    groups.flatMap((g) => {
      const v = Number.parseInt(g, 16);
      return [v >> 8, v & 0xff];
    }),
  );
}

function certificate(opts: {
  subject: Buffer;
  issuer: Buffer;
  spki: Buffer;
  signingKey: Parameters<typeof sign>[2];
  notBefore: Date;
  notAfter: Date;
  extensions: Buffer[];
}): string {
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const algorithm = seq(oid(OID.ecdsaSha256));
  const tbs = seq(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    algorithm,
    opts.issuer,
    seq(time(opts.notBefore), time(opts.notAfter)),
    opts.subject,
    opts.spki,
    explicit(3, seq(...opts.extensions)),
  );
  const signature = sign('sha256', tbs, opts.signingKey);
  const cert = seq(tbs, algorithm, bits(signature));
  const b64 = cert
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .trimEnd();
  return `-----BEGIN CERTIFICATE-----\n${b64}\n-----END CERTIFICATE-----\n`;
}

/** The key identifier RFC 5280 suggests: SHA-1 of the public key bits. */
function keyId(spki: Buffer): Buffer {
  // The key bits are the last element of the SubjectPublicKeyInfo: an EC point of 65 bytes.
  return createHash('sha1')
    .update(spki.subarray(spki.length - 65))
    .digest();
}

export function generatePki(
  opts: {
    nodeName?: string;
    dnsNames?: string[];
    ipAddresses?: string[];
    days?: number;
    now?: Date;
  } = {},
): GeneratedPki {
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - 86_400_000);
  const notAfter = new Date(now.getTime() + (opts.days ?? 825) * 86_400_000);
  const node = opts.nodeName ?? 'pve';
  const ec = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' });

  const ca = ec();
  const caSpki = ca.publicKey.export({ type: 'spki', format: 'der' });
  const caName = name([
    [OID.cn, 'Proxmox Virtual Environment (simulated)'],
    [OID.ou, 'proxmox-mcp simulator'],
    [OID.o, 'PVE Cluster Manager CA'],
  ]);
  const caCertPem = certificate({
    subject: caName,
    issuer: caName,
    spki: caSpki,
    signingKey: ca.privateKey,
    notBefore,
    notAfter: new Date(now.getTime() + 3_650 * 86_400_000),
    extensions: [
      extension(OID.basicConstraints, true, seq(bool(true))),
      extension(OID.keyUsage, true, keyUsage(5, 6)),
      extension(OID.subjectKeyId, false, octets(keyId(caSpki))),
    ],
  });

  const leaf = ec();
  const spki = leaf.publicKey.export({ type: 'spki', format: 'der' });
  const certPem = certificate({
    subject: name([
      [OID.o, 'PVE Cluster Node'],
      [OID.ou, 'proxmox-mcp simulator'],
      [OID.cn, `${node}.simulated`],
    ]),
    issuer: caName,
    spki,
    signingKey: ca.privateKey,
    notBefore,
    notAfter,
    extensions: [
      extension(OID.basicConstraints, false, seq()),
      extension(OID.keyUsage, true, keyUsage(0, 2)),
      extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
      extension(
        OID.subjectAltName,
        false,
        san(
          ['localhost', node, `${node}.simulated`, ...(opts.dnsNames ?? [])],
          ['127.0.0.1', '::1', ...(opts.ipAddresses ?? [])],
        ),
      ),
      extension(OID.subjectKeyId, false, octets(keyId(spki))),
      extension(OID.authorityKeyId, false, seq(der(0x80, keyId(caSpki)))),
    ],
  });

  return {
    caCertPem,
    certPem,
    keyPem: leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    fingerprint256: new X509Certificate(certPem).fingerprint256,
  };
}
