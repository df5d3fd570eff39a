/**
 * The node's configuration files, as pure functions of where things are: containerd, the CNI
 * network, the kubelet and kube-proxy. Everything the node writes is inside `NodePaths`, or
 * inside the node's private mount namespace (node-namespace.ts), never on the host.
 */
import * as path from 'node:path';

/** The node's network namespace, as slirp4netns configures it (its defaults). */
export const NODE_NETWORK = {
  /** The node's own address (slirp4netns' tap0). */
  nodeIp: '10.0.2.100',
  /** slirp4netns' gateway: the host's 127.0.0.1 as seen from the node and its pods. */
  hostIp: '10.0.2.2',
  /** Pods get addresses from here, on the bridge `cni0`. */
  podCidr: '10.244.0.0/24',
  bridge: 'cni0',
  /** What the node registers as; the API server reaches the kubelet at localhost:<kubelet port>. */
  nodeName: 'localhost',
} as const;

export const PAUSE_IMAGE = 'warren.local/pause:1';

export interface NodePaths {
  /** The node's part of the cluster's state folder. */
  dir: string;
  containerdConfig: string;
  containerdSocket: string;
  cniConfDir: string;
  kubeletConfig: string;
  kubeProxyConfig: string;
}

export function nodePaths(stateDir: string): NodePaths {
  const dir = path.join(stateDir, 'node');
  return {
    dir,
    containerdConfig: path.join(dir, 'containerd.toml'),
    containerdSocket: path.join(dir, 'containerd', 'containerd.sock'),
    cniConfDir: path.join(dir, 'cni'),
    kubeletConfig: path.join(dir, 'kubelet.yaml'),
    kubeProxyConfig: path.join(dir, 'kube-proxy.yaml'),
  };
}

const quote = (value: string) => JSON.stringify(value); // TOML basic strings escape like JSON

/**
 * containerd 1.6 (Debian 12), CRI on, cgroupfs. restrict_oom_score_adj: processes here lack
 * CAP_SYS_RESOURCE, and runc fails every sandbox when it may not lower oom_score_adj.
 */
export function containerdConfig(paths: NodePaths, cniBinDir: string): string {
  const root = path.join(paths.dir, 'containerd');
  const cri = 'plugins."io.containerd.grpc.v1.cri"';
  return `version = 2
root = ${quote(path.join(root, 'root'))}
state = ${quote(path.join(root, 'state'))}

[grpc]
  address = ${quote(paths.containerdSocket)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${quote(path.join(root, 'opt'))}

[${cri}]
  sandbox_image = ${quote(PAUSE_IMAGE)}
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = false
  Root = ${quote(path.join(root, 'runc'))}

[${cri}.cni]
  bin_dir = ${quote(cniBinDir)}
  conf_dir = ${quote(paths.cniConfDir)}
`;
}

/**
 * bridge + host-local + portmap. ipMasq: traffic leaving the pod range (to the host through
 * slirp4netns) takes the node's address, the only one slirp4netns answers.
 */
export function cniConfig(): string {
  return `${JSON.stringify(
    {
      cniVersion: '0.4.0',
      name: 'warren',
      plugins: [
        {
          type: 'bridge',
          bridge: NODE_NETWORK.bridge,
          isGateway: true,
          ipMasq: true,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: NODE_NETWORK.podCidr }]],
            routes: [{ dst: '0.0.0.0/0' }],
          },
        },
        { type: 'portmap', capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

export interface KubeletSettings {
  /** Listens on this port in the node's namespace; the same port on the host is forwarded to it. */
  port: number;
  caFile: string;
  /** Every pod cgroup goes under this one (created and removed by node-namespace.ts). */
  cgroupRoot: string;
  containerdSocket: string;
}

/**
 * The kubelet 1.35 on this kind of host: cgroup v1 allowed (failCgroupV1), cgroupfs (containerd
 * 1.6 cannot report its driver), no swap check, no iptables chains of its own, webhook authn/authz
 * (logs and exec), eviction and image GC out of the way (local images cannot be pulled again).
 */
export function kubeletConfig(settings: KubeletSettings): string {
  const config = {
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    failCgroupV1: false,
    cgroupDriver: 'cgroupfs',
    cgroupRoot: settings.cgroupRoot,
    failSwapOn: false,
    makeIPTablesUtilChains: false,
    protectKernelDefaults: false,
    address: '0.0.0.0',
    port: settings.port,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    containerRuntimeEndpoint: `unix://${settings.containerdSocket}`,
    // /var/lib and /var/log are the node's own (bind mounts in its mount namespace).
    volumePluginDir: '/var/lib/kubelet/volume-plugins',
    podLogsDir: '/var/log/pods',
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: settings.caFile },
    },
    authorization: { mode: 'Webhook' },
    evictionHard: {
      'memory.available': '1Mi',
      'nodefs.available': '1%',
      'nodefs.inodesFree': '1%',
      'imagefs.available': '1%',
    },
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    serializeImagePulls: false,
    resolvConf: '/etc/resolv.conf',
    shutdownGracePeriod: '0s',
    localStorageCapacityIsolation: true,
  };
  return `${JSON.stringify(config, null, 2)}\n`; // JSON is YAML
}

/**
 * iptables mode. masqueradeAll: without br_netfilter (a host module) a pod reaching another pod
 * through a Service would get the reply from the pod's address; masquerading sends it back
 * through the bridge. Conntrack sysctls left alone (nf_conntrack_max is host-wide).
 */
export function kubeProxyConfig(kubeconfig: string): string {
  const config = {
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig },
    hostnameOverride: NODE_NETWORK.nodeName,
    clusterCIDR: NODE_NETWORK.podCidr,
    iptables: { masqueradeAll: true },
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: '0s',
      tcpCloseWaitTimeout: '0s',
    },
    healthzBindAddress: '127.0.0.1:10256',
    metricsBindAddress: '127.0.0.1:10249',
  };
  return `${JSON.stringify(config, null, 2)}\n`;
}

/**
 * The kernel tunables the kubelet sets host-wide at start. In the node's mount namespace each of
 * these /proc/sys files is covered by a plain file already holding the wanted value.
 */
export const KUBELET_SYSCTLS: Record<string, string> = {
  'vm/overcommit_memory': '1',
  'vm/panic_on_oom': '0',
  'kernel/panic': '10',
  'kernel/panic_on_oops': '1',
  'kernel/keys/root_maxkeys': '1000000',
  'kernel/keys/root_maxbytes': '25000000',
};
