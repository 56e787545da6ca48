/**
 * One local control plane: real etcd, kube-apiserver and kube-controller-manager processes with
 * a throwaway PKI, on free ports of one address, in one directory. With `workloads` (a cluster that
 * runs a real node, see node/realNode.ts) also kube-scheduler, the controllers that run workloads,
 * and the API server flags a kubelet needs.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { Defaults, Names } from '../api/constants.js';
import { Core, KubeClient, isAlreadyExists, resourcePath } from '../k8s/rest.js';
import { createCA, createSigningKeyPair, issueCertificate, type CertificateAuthority, type KeyPairPem } from '../trust/pki.js';
import { freePort, hostPort } from './ports.js';
import { ProcessSet } from './processes.js';

export interface ControlPlaneOptions {
  name: string;
  /** Directory for PKI, etcd data, logs and the kubeconfig. */
  dir: string;
  /** Address the API server listens on (and is reached at). */
  address: string;
  binDir: string;
  /** Extra subjectAltNames for the serving certificate. */
  extraSANs?: string[];
  /** Fixed API server port; a free one otherwise. */
  apiPort?: number;
  /** Run what a cluster with a real node needs: scheduler, workload controllers, kubelet client. */
  workloads?: boolean;
}

export interface ControlPlaneInfo {
  name: string;
  address: string;
  apiUrl: string;
  kubeconfig: string;
  caCert: string;
  /**
   * CA of the client certificate the API server presents to admission webhooks (CN
   * `kube-apiserver-webhook-client`): what the kubepeer agent of this cluster requires of callers
   * of its webhook (`kubepeer agent --webhook-client-ca`).
   */
  webhookClientCA: string;
  dir: string;
  pids: Record<string, number>;
}

/** The cluster CA and the files a node's components are configured with. */
export interface ControlPlanePki {
  ca: CertificateAuthority;
  caCertFile: string;
}

export class ControlPlaneError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

/** Service range of every local cluster; the `kubernetes` Service is .1 and cluster DNS .10. */
export const SERVICE_CIDR = '10.0.0.0/24';
export const KUBERNETES_SERVICE_IP = '10.0.0.1';

/** Controllers a cluster without kubelets still needs (docs/design.md §6). */
const BASE_CONTROLLERS = [
  'garbage-collector-controller',
  'namespace-controller',
  'serviceaccount-controller',
  'serviceaccount-token-controller',
  'root-ca-certificate-publisher-controller',
  // Fills the built-in view/edit/admin roles from their aggregated parts, as on real clusters.
  'clusterrole-aggregation-controller',
  // Signs the serving certificate of the kubepeer agent's virtual-node kubelet endpoint (signer
  // kubernetes.io/kubelet-serving, with the cluster CA), and removes old CSRs: every cluster may
  // host virtual nodes, and the API server verifies kubelets against the cluster CA.
  'certificatesigningrequest-signing-controller',
  'certificatesigningrequest-cleaner-controller',
];

/** What a user expects of a cluster whose node runs pods (kube-controller-manager's names). */
const WORKLOAD_CONTROLLERS = [
  'node-lifecycle-controller',
  'taint-eviction-controller',
  'replicaset-controller',
  'deployment-controller',
  'statefulset-controller',
  'daemonset-controller',
  'job-controller',
  'cronjob-controller',
  'endpoints-controller',
  'endpointslice-controller',
  'endpointslice-mirroring-controller',
  'resourcequota-controller',
  'disruption-controller',
  'ttl-after-finished-controller',
  'pod-garbage-collector-controller',
  'replicationcontroller-controller',
  'horizontal-pod-autoscaler-controller',
  'persistentvolume-binder-controller',
  'ephemeral-volume-controller',
];

export class ControlPlane {
  private readonly procs: ProcessSet;
  info!: ControlPlaneInfo;
  pki!: ControlPlanePki;

  private constructor(private readonly opts: ControlPlaneOptions) {
    mkdirSync(join(opts.dir, 'logs'), { recursive: true });
    this.procs = new ProcessSet(join(opts.dir, 'logs'), opts.dir);
  }

  set onUnexpectedExit(fn: ((component: string, code: number | null) => void) | undefined) {
    this.procs.onUnexpectedExit = fn;
  }

  static async start(opts: ControlPlaneOptions): Promise<ControlPlane> {
    const cp = new ControlPlane(opts);
    try {
      await cp.run();
    } catch (err) {
      await cp.stop();
      throw err;
    }
    return cp;
  }

  private path(...p: string[]): string {
    return join(this.opts.dir, ...p);
  }

  private async run(): Promise<void> {
    const { dir, address, name, binDir, workloads } = this.opts;
    for (const d of ['pki', 'logs', 'etcd']) mkdirSync(join(dir, d), { recursive: true });

    // --- PKI
    const ca = await createCA(`kubepeer-${name}-ca`);
    const sans = [address, '127.0.0.1', 'localhost', hostname(), 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', KUBERNETES_SERVICE_IP, ...(this.opts.extraSANs ?? [])];
    const serving = await issueCertificate(ca, { commonName: 'kube-apiserver', hosts: [...new Set(sans)], usage: 'server' });
    const admin = await issueCertificate(ca, { commonName: 'kubepeer-admin', organizations: ['system:masters'], usage: 'client' });
    const sa = await createSigningKeyPair();
    const files = {
      caCert: this.path('pki', 'ca.crt'),
      caKey: this.path('pki', 'ca.key'),
      servingCert: this.path('pki', 'apiserver.crt'),
      servingKey: this.path('pki', 'apiserver.key'),
      adminCert: this.path('pki', 'admin.crt'),
      adminKey: this.path('pki', 'admin.key'),
      saKey: this.path('pki', 'sa.key'),
      saPub: this.path('pki', 'sa.pub'),
      kubeletClientCert: this.path('pki', 'apiserver-kubelet-client.crt'),
      kubeletClientKey: this.path('pki', 'apiserver-kubelet-client.key'),
      webhookClientCA: this.path('pki', 'webhook-client-ca.crt'),
      admissionConfig: this.path('pki', 'admission-config.yaml'),
      webhookKubeconfig: this.path('pki', 'admission-webhooks.kubeconfig'),
    };
    writeFileSync(files.caCert, ca.certPem);
    writeFileSync(files.caKey, ca.keyPem, { mode: 0o600 });
    writeFileSync(files.servingCert, serving.certPem);
    writeFileSync(files.servingKey, serving.keyPem, { mode: 0o600 });
    writeFileSync(files.adminCert, admin.certPem);
    writeFileSync(files.adminKey, admin.keyPem, { mode: 0o600 });
    writeFileSync(files.saKey, sa.privatePem, { mode: 0o600 });
    writeFileSync(files.saPub, sa.publicPem);
    this.pki = { ca, caCertFile: files.caCert };

    // --- etcd (private to this host: always loopback)
    const etcdClient = await freePort('127.0.0.1');
    const etcdPeer = await freePort('127.0.0.1');
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    this.procs.launch('etcd', join(binDir, 'etcd'), [
      `--name=${name}`,
      `--data-dir=${this.path('etcd')}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=${name}=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync=true',
      '--log-level=warn',
    ]);
    await this.procs.waitFor('etcd', () => httpGetOk(`${etcdUrl}/health`), 30_000);

    // --- kube-apiserver
    const apiPort = this.opts.apiPort ?? (await freePort(address));
    const apiUrl = `https://${hostPort(address, apiPort)}`;
    const loopback = address.startsWith('127.') || address === '::1';
    // The API server calls kubelets (logs, exec, port-forward) as a client of the cluster CA, by
    // their InternalIP, and verifies their serving certificates (issued by the same CA). Every
    // cluster gets these flags, with or without a real node: the kubepeer agent serves the kubelet
    // endpoint of virtual nodes and authenticates the API server the same way.
    const kubeletClient = await issueCertificate(ca, { commonName: 'kube-apiserver-kubelet-client', organizations: ['system:masters'], usage: 'client' });
    writeFileSync(files.kubeletClientCert, kubeletClient.certPem);
    writeFileSync(files.kubeletClientKey, kubeletClient.keyPem, { mode: 0o600 });
    const webhookClient = await webhookClientIdentity(name);
    writeAdmissionConfig(files, webhookClient);
    const nodeFlags = [
      `--kubelet-client-certificate=${files.kubeletClientCert}`,
      `--kubelet-client-key=${files.kubeletClientKey}`,
      `--kubelet-certificate-authority=${files.caCert}`,
      '--kubelet-preferred-address-types=InternalIP,Hostname',
    ];
    this.procs.launch('kube-apiserver', join(binDir, 'kube-apiserver'), [
      `--etcd-servers=${etcdUrl}`,
      `--bind-address=${address}`,
      `--secure-port=${apiPort}`,
      `--advertise-address=${address}`,
      // Loopback addresses are not valid Endpoints: a loopback cluster has no `kubernetes`
      // Service endpoints (nothing runs pods there); a host address gets them, so pods reach us.
      ...(loopback ? ['--endpoint-reconciler-type=none'] : ['--endpoint-reconciler-type=lease']),
      `--tls-cert-file=${files.servingCert}`,
      `--tls-private-key-file=${files.servingKey}`,
      `--client-ca-file=${files.caCert}`,
      `--service-account-issuer=${apiUrl}`,
      `--service-account-key-file=${files.saPub}`,
      `--service-account-signing-key-file=${files.saKey}`,
      `--service-cluster-ip-range=${SERVICE_CIDR}`,
      '--authorization-mode=Node,RBAC',
      '--enable-admission-plugins=NodeRestriction',
      // The API server authenticates itself to admission webhooks with a client certificate
      // (writeAdmissionConfig): the kubepeer agent then refuses every other caller of its webhook.
      `--admission-control-config-file=${files.admissionConfig}`,
      '--anonymous-auth=true',
      '--allow-privileged=true',
      '--profiling=false',
      '--event-ttl=1h',
      ...nodeFlags,
      '--v=0',
    ]);
    const adminTls = { ca: ca.certPem, cert: admin.certPem, key: admin.keyPem };
    await this.procs.waitFor('kube-apiserver', () => httpsGetOk(`${apiUrl}/readyz`, adminTls), 90_000);

    // --- kubeconfig
    const kubeconfig = this.path('kubeconfig');
    writeKubeconfig(kubeconfig, `kubepeer-${name}`, apiUrl, ca.certPem, admin);
    await publishWebhookClientCA(kubeconfig, webhookClient.caPem);

    // --- kube-controller-manager
    const kcmPort = await freePort('127.0.0.1');
    this.procs.launch('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
      `--kubeconfig=${kubeconfig}`,
      `--authentication-kubeconfig=${kubeconfig}`,
      `--authorization-kubeconfig=${kubeconfig}`,
      `--controllers=${[...BASE_CONTROLLERS, ...(workloads ? WORKLOAD_CONTROLLERS : [])].join(',')}`,
      `--service-account-private-key-file=${files.saKey}`,
      `--root-ca-file=${files.caCert}`,
      `--cluster-signing-cert-file=${files.caCert}`,
      `--cluster-signing-key-file=${files.caKey}`,
      '--leader-elect=false',
      // Each controller acts as its own ServiceAccount, as on kubeadm clusters, so RBAC and
      // audit see which controller did what.
      `--use-service-account-credentials=${workloads ? 'true' : 'false'}`,
      `--bind-address=127.0.0.1`,
      `--secure-port=${kcmPort}`,
      `--cluster-name=${name}`,
      '--v=0',
    ]);

    // --- kube-scheduler
    if (workloads) {
      const scheduler = await issueCertificate(ca, { commonName: 'system:kube-scheduler', usage: 'client' });
      const schedulerKubeconfig = this.path('pki', 'scheduler.kubeconfig');
      writeKubeconfig(schedulerKubeconfig, `kubepeer-${name}`, apiUrl, ca.certPem, scheduler);
      const schedulerPort = await freePort('127.0.0.1');
      this.procs.launch('kube-scheduler', join(binDir, 'kube-scheduler'), [
        `--kubeconfig=${schedulerKubeconfig}`,
        `--authentication-kubeconfig=${schedulerKubeconfig}`,
        `--authorization-kubeconfig=${schedulerKubeconfig}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${schedulerPort}`,
        '--v=0',
      ]);
    }

    this.info = { name, address, apiUrl, kubeconfig, caCert: files.caCert, webhookClientCA: files.webhookClientCA, dir: this.opts.dir, pids: this.procs.pids() };
  }

  /** Restarts one component in place (fault-injection tests): same flags, same ports and data. */
  async restart(component: 'kube-apiserver' | 'etcd' | 'kube-controller-manager' | 'kube-scheduler'): Promise<void> {
    // kube-apiserver's graceful drain waits for long-running requests for many seconds; a local
    // cluster has nothing worth draining, so give it a short grace.
    await this.procs.restart(component, 3_000);
    this.info.pids = this.procs.pids();
  }

  /** Stops every process (scheduler, kcm, apiserver, then etcd), SIGKILL after a grace period. */
  async stop(): Promise<void> {
    await this.procs.stopAll(3_000);
  }
}

/**
 * The API server's identity towards admission webhooks: a client certificate (CN
 * `kube-apiserver-webhook-client`) from a CA of its own that signs nothing else. The CA's key is
 * dropped once the certificate is issued, so no one (not even the cluster's admin, nor the CSR
 * signer, which signs with the cluster CA) can make a second certificate the webhook accepts.
 */
async function webhookClientIdentity(name: string): Promise<{ caPem: string; client: KeyPairPem }> {
  const ca = await createCA(`kubepeer-${name}-webhook-client-ca`);
  const client = await issueCertificate(ca, { commonName: Defaults.webhookClientName, usage: 'client' });
  return { caPem: ca.certPem, client };
}

/**
 * `--admission-control-config-file`: the ValidatingAdmissionWebhook and MutatingAdmissionWebhook
 * plugins read a kubeconfig whose users say how the API server authenticates to each webhook,
 * matched by the webhook's host (`name.namespace.svc[:port]` for a Service, `host:port` for a URL).
 * The one user `*` is the default match: every webhook gets the certificate, whatever address
 * the agent's webhook has (a URL on a free port, or its Service in the in-cluster mode).
 */
function writeAdmissionConfig(files: { webhookClientCA: string; admissionConfig: string; webhookKubeconfig: string }, id: { caPem: string; client: KeyPairPem }): void {
  writeFileSync(files.webhookClientCA, id.caPem);
  writeFileSync(
    files.webhookKubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      users: [{ name: '*', user: { 'client-certificate-data': b64(id.client.certPem), 'client-key-data': b64(id.client.keyPem) } }],
    }),
    { mode: 0o600 },
  );
  const plugin = (name: string) => ({
    name,
    configuration: { apiVersion: 'apiserver.config.k8s.io/v1', kind: 'WebhookAdmissionConfiguration', kubeConfigFile: files.webhookKubeconfig },
  });
  writeFileSync(
    files.admissionConfig,
    stringify({ apiVersion: 'apiserver.config.k8s.io/v1', kind: 'AdmissionConfiguration', plugins: [plugin('ValidatingAdmissionWebhook'), plugin('MutatingAdmissionWebhook')] }),
  );
}

/**
 * Tells the cluster's kubepeer agent, wherever it runs (beside the cluster or in it), who the API
 * server is when it calls webhooks: ConfigMap kube-system/kubepeer-webhook-client, the way
 * kube-system/extension-apiserver-authentication tells aggregated API servers. Written before the
 * cluster is reported ready, so it is there before any agent starts.
 */
async function publishWebhookClientCA(kubeconfig: string, caPem: string): Promise<void> {
  const client = KubeClient.fromFile(kubeconfig);
  const body = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: Names.webhookClientConfigMap, namespace: 'kube-system', labels: { 'app.kubernetes.io/managed-by': 'kubepeer-local' } },
    data: { 'ca.crt': caPem, 'client-name': Defaults.webhookClientName },
  };
  // kube-system is made by the API server just after it reports ready: retry for a while
  const deadline = Date.now() + 30_000;
  try {
    for (;;) {
      try {
        await client.create(resourcePath(Core.configMaps, { namespace: 'kube-system' }), body);
        return;
      } catch (e) {
        if (isAlreadyExists(e)) return;
        if (Date.now() > deadline) throw new ControlPlaneError('WebhookClientCA', `could not publish ConfigMap kube-system/${Names.webhookClientConfigMap}: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  } finally {
    client.close();
  }
}

/** A kubeconfig with one cluster, one client-certificate user and one context. */
export function writeKubeconfig(file: string, context: string, apiUrl: string, caPem: string, client: KeyPairPem): void {
  writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: context, cluster: { server: apiUrl, 'certificate-authority-data': b64(caPem) } }],
      users: [{ name: `${context}-user`, user: { 'client-certificate-data': b64(client.certPem), 'client-key-data': b64(client.keyPem) } }],
      contexts: [{ name: context, context: { cluster: context, user: `${context}-user` } }],
      'current-context': context,
    }),
    { mode: 0o600 },
  );
}

function b64(s: string): string {
  return Buffer.from(s).toString('base64');
}

function httpGetOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpRequest(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export function httpsGetOk(url: string, tls: { ca: string; cert?: string; key?: string }): Promise<boolean> {
  return new Promise((resolve) => {
    const req = httpsRequest(url, { ...tls, timeout: 3000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
