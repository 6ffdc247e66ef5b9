/**
 * A throwaway certificate authority and a server certificate for 127.0.0.1, made at start; the
 * same authority issues the real control plane's server and client certificates.
 *
 * Keys come from node:crypto (native, fast); node-forge only assembles and signs the X.509
 * certificates, which node:crypto cannot do. Nothing is written to disk.
 */
import { generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import forge from 'node-forge';

/** PEM texts of the sandbox's CA certificate and its server certificate and key. */
export interface SandboxCerts {
  caPem: string;
  certPem: string;
  keyPem: string;
}

interface KeyPair {
  privateKey: KeyObject;
  publicKey: forge.pki.rsa.PublicKey;
  pem: string;
}

function rsaKeyPair(): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    privateKey,
    publicKey: forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString()),
    pem: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
  };
}

/** Signs with node:crypto: forge's pure-JS RSA takes about a second per signature. */
function signCert(cert: forge.pki.Certificate, key: KeyObject): void {
  const oid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.siginfo.algorithmOid = oid;
  cert.signatureOid = oid;
  const tbs = (forge.pki as unknown as { getTBSCertificate(c: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate(cert);
  const der = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  (cert as unknown as { tbsCertificate: forge.asn1.Asn1 }).tbsCertificate = tbs;
  cert.signature = sign('sha256', der, key).toString('binary');
}

function serial(): string {
  // A positive serial number: clear the top bit so DER does not read it as negative.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

/** What a certificate is for: a TLS server (with its names and addresses) or a client (an identity). */
export interface CertificateRequest {
  /** The subject's common name: the user name Kubernetes sees for a client certificate. */
  commonName: string;
  /** The subject's organisations: the groups Kubernetes sees for a client certificate. */
  organizations?: string[];
  /** Server certificates: the IP addresses and DNS names it is valid for. */
  ips?: string[];
  dnsNames?: string[];
  /** Client certificate (clientAuth) rather than server certificate (serverAuth). */
  client?: boolean;
}

/** A certificate and its private key, PEM. */
export interface IssuedCertificate {
  certPem: string;
  keyPem: string;
}

/** A throwaway CA valid for a day, which issues server and client certificates. */
export interface CertificateAuthority {
  caPem: string;
  /** The CA's private key (PKCS#1 PEM), for components that sign with it themselves. */
  caKeyPem: string;
  issue(request: CertificateRequest): IssuedCertificate;
}

/** A new certificate authority called `name`; every certificate it issues is valid for a day. */
export function createAuthority(name: string): CertificateAuthority {
  const now = new Date();
  const notBefore = new Date(now.getTime() - 60_000);
  const notAfter = new Date(now.getTime() + 24 * 3600_000);

  const ca = rsaKeyPair();
  const caCert = forge.pki.createCertificate();
  caCert.publicKey = ca.publicKey;
  caCert.serialNumber = serial();
  caCert.validity.notBefore = notBefore;
  caCert.validity.notAfter = notAfter;
  const caName = [{ name: 'commonName', value: name }];
  caCert.setSubject(caName);
  caCert.setIssuer(caName);
  caCert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signCert(caCert, ca.privateKey);

  const issue = (request: CertificateRequest): IssuedCertificate => {
    const pair = rsaKeyPair();
    const cert = forge.pki.createCertificate();
    cert.publicKey = pair.publicKey;
    cert.serialNumber = serial();
    cert.validity.notBefore = notBefore;
    cert.validity.notAfter = notAfter;
    cert.setSubject([
      { name: 'commonName', value: request.commonName },
      ...(request.organizations ?? []).map((o) => ({ name: 'organizationName', value: o })),
    ]);
    cert.setIssuer(caName);
    const altNames = [
      ...(request.ips ?? []).map((ip) => ({ type: 7, ip })),
      ...(request.dnsNames ?? []).map((value) => ({ type: 2, value })),
    ];
    cert.setExtensions([
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      request.client ? { name: 'extKeyUsage', clientAuth: true } : { name: 'extKeyUsage', serverAuth: true },
      ...(altNames.length > 0 ? [{ name: 'subjectAltName', altNames }] : []),
    ]);
    signCert(cert, ca.privateKey);
    return { certPem: forge.pki.certificateToPem(cert), keyPem: pair.pem };
  };

  return { caPem: forge.pki.certificateToPem(caCert), caKeyPem: ca.pem, issue };
}

let cached: SandboxCerts | undefined;

/**
 * A CA valid for a day and a server certificate it signs for 127.0.0.1, ::1 and localhost; made
 * once per process (every sandbox of a test file shares them, each has its own tokens).
 */
export function makeCerts(): SandboxCerts {
  if (!cached) {
    const authority = createAuthority('sandbox-ca');
    const server = authority.issue({
      commonName: 'kube-apiserver',
      ips: ['127.0.0.1', '::1'],
      dnsNames: ['localhost', 'kubernetes.default.svc'],
    });
    cached = { caPem: authority.caPem, ...server };
  }
  return cached;
}
